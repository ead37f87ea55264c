#include "lora_library.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <cmath>

#include "ips/model_discovery.h"
#include "ips/model_info.h"
#include "installation_folders.h"
#include "model_config.h"
#include "qt_convert.h"

namespace ipsui {

namespace {

// Where each tool keeps its LoRAs, relative to the installation's root.
const QStringList kLoraSubfolders{QStringLiteral("models/loras"), QStringLiteral("models/Lora"), QStringLiteral("models/LyCORIS"),
                                  QStringLiteral("models/sd-1/lora")};

QString baseProblem(const std::string& base) {
    return QStringLiteral("made for %1; IP Studio runs Stable Diffusion 1.x").arg(QString::fromStdString(base));
}

}  // namespace

QString LoraFile::name() const { return QFileInfo(path).completeBaseName(); }

LoraFile describeLoraFile(const QString& path) {
    LoraFile file;
    file.path = path;
    if (!QFileInfo::exists(path)) {
        file.problem = QStringLiteral("missing");
        return file;
    }
    try {
        const ips::ModelInfo info = ips::inspect_model(toFsPath(path));
        file.base = QString::fromStdString(info.base_architecture);
        for (const auto& word : info.trigger_words) file.triggerWords << QString::fromStdString(word);
        file.isLora = info.kind == ips::ModelKind::Lora;
        if (!file.isLora)
            file.problem = QStringLiteral("not a LoRA (%1)").arg(QString::fromLatin1(ips::model_kind_name(info.kind)));
        else if (!runsBaseArchitecture(info.base_architecture))
            file.problem = baseProblem(info.base_architecture);
    } catch (const std::exception& e) {
        file.problem = QString::fromUtf8(e.what());
    }
    return file;
}

QStringList loraFolders(const QStringList& modelPaths, const QStringList& extraFolders) {
    return installationFolders(modelPaths, kLoraSubfolders, extraFolders);
}

QList<LoraFile> findLoras(const QStringList& folders) {
    QList<LoraFile> found;
    QStringList seen;
    for (const QString& folder : folders) {
        std::vector<ips::DiscoveredModel> models;
        try {
            models = ips::discover_model_folder(toFsPath(folder));
        } catch (const std::exception&) {
            continue;  // a folder that went away since it was remembered
        }
        for (const auto& m : models) {
            const QString path = fromFsPath(m.path);
            if (m.kind != ips::ModelKind::Lora || seen.contains(path)) continue;
            seen << path;
            found << describeLoraFile(path);  // the scan's summary has no trigger words
        }
    }
    std::sort(found.begin(), found.end(), [](const LoraFile& a, const LoraFile& b) {
        return QString::localeAwareCompare(a.name(), b.name()) < 0;
    });
    return found;
}

QList<LoraEntry> lorasFromRequest(const std::vector<ips::LoraSettings>& loras) {
    QList<LoraEntry> entries;
    for (const auto& l : loras) entries.append({fromFsPath(l.path), l.weight, true});
    return entries;
}

std::vector<ips::LoraSettings> toLoraSettings(const QList<LoraEntry>& entries) {
    std::vector<ips::LoraSettings> loras;
    for (const LoraEntry& e : entries) loras.push_back({toFsPath(e.path), e.weight});
    return loras;
}

QString lorasToJson(const QList<LoraEntry>& entries) {
    QJsonArray list;
    for (const LoraEntry& e : entries)
        list.append(QJsonObject{{QStringLiteral("path"), e.path}, {QStringLiteral("weight"), e.weight}, {QStringLiteral("enabled"), e.enabled}});
    return QString::fromUtf8(QJsonDocument(list).toJson(QJsonDocument::Compact));
}

QList<LoraEntry> lorasFromJson(const QString& json) {
    QList<LoraEntry> entries;
    for (const QJsonValue& v : QJsonDocument::fromJson(json.toUtf8()).array()) {
        const QJsonObject o = v.toObject();
        const QString path = o.value(QStringLiteral("path")).toString();
        const double weight = o.value(QStringLiteral("weight")).toDouble(1.0);
        if (path.isEmpty() || std::abs(weight) > 10) continue;  // the engine's limit
        entries.append({path, weight, o.value(QStringLiteral("enabled")).toBool(true)});
    }
    return entries;
}

}  // namespace ipsui
