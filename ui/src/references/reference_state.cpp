// ReferencePanel's part of the autosaved session: the adapter's knobs, every reference (picture, weight,
// crop, region) and the negative reference.
#include <QJsonArray>
#include <QJsonObject>

#include "ips/image_prompt.h"
#include "picture_store.h"
#include "qt_convert.h"
#include "reference_panel.h"
#include "step_range_edit.h"

namespace ipsui {

namespace {
QString cropName(ips::CropMode mode) { return QString::fromLatin1(ips::crop_mode_name(mode).data(), qsizetype(ips::crop_mode_name(mode).size())); }
ips::CropMode cropFrom(const QJsonValue& v) { return ips::parse_crop_mode(v.toString().toStdString()).value_or(ips::CropMode::Center); }
}  // namespace

QJsonObject ReferencePanel::saveState(PictureStore& store, QString* error) const {
    const ips::IpAdapterSettings k = knobs();
    QJsonObject state{
        {QStringLiteral("adapter"), adapterFile()},
        {QStringLiteral("scale"), k.scale},
        {QStringLiteral("weight_type"), QString::fromStdString(k.mode)},
        {QStringLiteral("combine_embeds"), QString::fromStdString(k.combine_embeds)},
        {QStringLiteral("embeds_scaling"), QString::fromStdString(k.embeds_scaling)},
        {QStringLiteral("start"), k.start},
        {QStringLiteral("end"), k.end},
        {QStringLiteral("crop"), cropName(defaultCrop_)},
    };
    QJsonArray references;
    for (int i = 0; i < referenceCount(); ++i) {
        const ReferenceRow* r = row(i);
        QJsonObject reference{{QStringLiteral("image"), store.put(r->image(), error)},
                              {QStringLiteral("weight"), r->weight()},
                              {QStringLiteral("crop"), cropName(r->crop())}};
        if (!r->region().isNull()) reference.insert(QStringLiteral("region"), store.putImage(r->region(), error));
        references.append(reference);
    }
    state.insert(QStringLiteral("references"), references);
    if (!negative_.path.isEmpty() || !negative_.image.isNull()) state.insert(QStringLiteral("negative"), store.put(negative_, error));
    return state;
}

void ReferencePanel::restoreState(const QJsonObject& state, const PictureStore& store) {
    clearReferences();
    const QJsonArray references = state.value(QStringLiteral("references")).toArray();
    for (const QJsonValue& v : references) {
        const QJsonObject reference = v.toObject();
        if (addLoaded({store.take(reference.value(QStringLiteral("image")).toObject())}) == 0) continue;
        ReferenceRow* r = row(referenceCount() - 1);
        r->setWeight(reference.value(QStringLiteral("weight")).toDouble(1.0));
        if (!r->image().isEmbedding) r->setCrop(cropFrom(reference.value(QStringLiteral("crop"))));
        if (reference.contains(QStringLiteral("region"))) {
            const QImage region = store.image(reference.value(QStringLiteral("region")).toObject());
            if (region.isNull()) Q_EMIT problem(tr("The region of reference %1 could not be restored (its saved picture is missing)").arg(referenceCount()));
            else r->setRegion(region);
        }
    }
    setNegative({});
    if (state.contains(QStringLiteral("negative"))) setNegative(store.take(state.value(QStringLiteral("negative")).toObject()));

    ips::IpAdapterSettings k;
    k.path = toFsPath(state.value(QStringLiteral("adapter")).toString());
    k.scale = state.value(QStringLiteral("scale")).toDouble(1.0);
    k.mode = state.value(QStringLiteral("weight_type")).toString(QStringLiteral("linear")).toStdString();
    k.combine_embeds = state.value(QStringLiteral("combine_embeds")).toString(QStringLiteral("concat")).toStdString();
    k.embeds_scaling = state.value(QStringLiteral("embeds_scaling")).toString(QStringLiteral("V only")).toStdString();
    k.start = state.value(QStringLiteral("start")).toDouble(0.0);
    k.end = state.value(QStringLiteral("end")).toDouble(1.0);
    k.crop = cropFrom(state.value(QStringLiteral("crop")));
    k.images.resize(references.size());  // not a preset: each reference keeps the crop restored above
    applyKnobs(k);
}

}  // namespace ipsui
