#include "picture_store.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QSaveFile>

namespace ipsui {

namespace {

const QString kPicture = QStringLiteral("picture");

// The pixels, not an encoding or a memory layout: the same picture always gets the same name, also after a
// PNG round trip (which reads RGB888 back as RGB32).
QString pixelHash(const QImage& picture) {
    const QImage::Format canonical = picture.hasAlphaChannel()                       ? QImage::Format_ARGB32
                                     : picture.format() == QImage::Format_Grayscale8 ? QImage::Format_Grayscale8
                                                                                     : QImage::Format_RGB32;
    const QImage image = picture.convertToFormat(canonical);
    QCryptographicHash hash(QCryptographicHash::Sha256);
    const qint32 header[3] = {qint32(image.format()), image.width(), image.height()};
    hash.addData(QByteArrayView(reinterpret_cast<const char*>(header), sizeof(header)));
    const qsizetype rowBytes = (qsizetype(image.width()) * image.depth() + 7) / 8;  // without the scan-line padding
    for (int y = 0; y < image.height(); ++y) hash.addData(QByteArrayView(reinterpret_cast<const char*>(image.constScanLine(y)), rowBytes));
    return QString::fromLatin1(hash.result().toHex());
}

QString fileKey(const QFileInfo& info) {
    return QStringLiteral("%1|%2|%3").arg(info.absoluteFilePath()).arg(info.size()).arg(info.lastModified().toMSecsSinceEpoch());
}

}  // namespace

PictureStore::PictureStore(QString folder) : folder_(std::move(folder)) {}

QString PictureStore::pathOf(const QString& name) const { return QDir(folder_).filePath(name); }

bool PictureStore::writeOnce(const QString& name, const QByteArray& bytes, QString* error) const {
    const QString path = pathOf(name);
    // Same name, same content: a stored picture is never rewritten.
    if (QFileInfo(path).size() == bytes.size()) return true;
    QSaveFile file(path);
    if (!QDir().mkpath(folder_) || !file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        if (error) *error = QStringLiteral("%1: cannot be written (%2)").arg(QDir::toNativeSeparators(path), file.errorString());
        return false;
    }
    return true;
}

QJsonObject PictureStore::put(const LoadedImage& picture, QString* error) {
    if (picture.path.isEmpty()) return putImage(picture.image, error);
    const QFileInfo info(picture.path);
    QJsonObject entry{{QStringLiteral("path"), picture.path}};
    if (picture.isEmbedding) entry.insert(QStringLiteral("embedding"), true);
    if (!info.isFile()) {
        // Gone since it was added: what is still in memory is kept.
        if (picture.image.isNull()) return {};
        QJsonObject copy = putImage(picture.image, error);
        return copy.isEmpty() ? copy : (copy.insert(QStringLiteral("path"), picture.path), copy);
    }
    const QString key = fileKey(info);
    QString name = fileNames_.value(key);
    if (name.isEmpty() || !QFileInfo::exists(pathOf(name))) {
        QFile file(picture.path);
        if (!file.open(QIODevice::ReadOnly)) {
            if (error) *error = QStringLiteral("%1: cannot be read (%2)").arg(QDir::toNativeSeparators(picture.path), file.errorString());
            return {};
        }
        const QByteArray bytes = file.readAll();
        const QString suffix = info.suffix().toLower();
        name = QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex()) +
               (suffix.isEmpty() ? QString() : QLatin1Char('.') + suffix);
        if (!writeOnce(name, bytes, error)) return {};
        fileNames_.insert(key, name);
    }
    entry.insert(kPicture, name);
    entry.insert(QStringLiteral("size"), info.size());
    entry.insert(QStringLiteral("modified"), info.lastModified().toMSecsSinceEpoch());
    return entry;
}

QJsonObject PictureStore::putImage(const QImage& image, QString* error) {
    if (image.isNull()) return {};
    const QString name = pixelHash(image) + QStringLiteral(".png");
    if (!QFileInfo::exists(pathOf(name))) {
        QByteArray bytes;
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        // Fast compression: autosaves happen while the artist works; the files stay small anyway.
        if (!image.save(&buffer, "PNG", 90)) {
            if (error) *error = QStringLiteral("a %1x%2 picture could not be encoded").arg(image.width()).arg(image.height());
            return {};
        }
        if (!writeOnce(name, bytes, error)) return {};
    }
    return QJsonObject{{kPicture, name}};
}

LoadedImage PictureStore::take(const QJsonObject& entry) const {
    const QString name = entry.value(kPicture).toString();
    const QString original = entry.value(QStringLiteral("path")).toString();
    const bool embedding = entry.value(QStringLiteral("embedding")).toBool();
    if (!original.isEmpty()) {
        const QFileInfo info(original);
        const bool unchanged = info.isFile() && info.size() == entry.value(QStringLiteral("size")).toInteger(-1) &&
                               info.lastModified().toMSecsSinceEpoch() == entry.value(QStringLiteral("modified")).toInteger(-1);
        if (unchanged) {
            if (!embedding) return loadImageFile(original);
            LoadedImage e;
            e.path = original;
            e.isEmbedding = true;
            return e;
        }
    }
    if (name.isEmpty()) return LoadedImage{original, {}, QStringLiteral("%1: not found, and no copy was kept").arg(original), embedding};
    const QString stored = pathOf(name);
    if (embedding) {
        LoadedImage e;
        e.path = stored;
        e.isEmbedding = true;
        if (!QFileInfo(stored).isFile()) e.error = QStringLiteral("%1: the kept copy is missing").arg(QDir::toNativeSeparators(stored));
        return e;
    }
    LoadedImage copy = loadImageFile(stored);
    copy.path.clear();  // the original moved or changed: the kept picture, held in memory
    return copy;
}

QImage PictureStore::image(const QJsonObject& entry) const {
    const QString name = entry.value(kPicture).toString();
    return name.isEmpty() ? QImage() : QImage(pathOf(name));
}

void PictureStore::collectNames(const QJsonValue& state, QSet<QString>& names) {
    if (state.isObject()) {
        const QJsonObject object = state.toObject();
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (it.key() == kPicture && it.value().isString()) names.insert(it.value().toString());
            else collectNames(it.value(), names);
        }
    } else if (state.isArray()) {
        for (const QJsonValue& v : state.toArray()) collectNames(v, names);
    }
}

void PictureStore::keepOnly(const QSet<QString>& keep) const {
    QDir dir(folder_);
    for (const QString& name : dir.entryList(QDir::Files))
        if (!keep.contains(name)) dir.remove(name);
}

}  // namespace ipsui
