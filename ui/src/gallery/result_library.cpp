#include "result_library.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSaveFile>

#include "ips/a1111_text.h"
#include "ips/errors.h"
#include "ips/png_file.h"
#include "ips/request_json.h"
#include "qt_convert.h"

namespace ipsui {

namespace {

const QString kResults = QStringLiteral("results");
const QString kTrash = QStringLiteral("trash");

QString joinNames(const std::vector<std::filesystem::path>& paths) {
    QStringList names;
    for (const auto& p : paths) names << fromFsPath(p.filename());
    return names.join(QStringLiteral(", "));
}

// "ipstudio-20261203-211045-123-42.png" -> that time; else the file's own time.
qint64 createdOf(const QFileInfo& file) {
    static const QRegularExpression stamp(QStringLiteral("(\\d{8}-\\d{6}-\\d{3})"));
    const QRegularExpressionMatch m = stamp.match(file.fileName());
    const QDateTime t = m.hasMatch() ? QDateTime::fromString(m.captured(1), QStringLiteral("yyyyMMdd-HHmmss-zzz")) : QDateTime();
    return (t.isValid() ? t : file.lastModified()).toMSecsSinceEpoch();
}

void fillFromRequest(LibraryRecord& r, const ips::GenerationRequest& q) {
    r.prompt = QString::fromStdString(q.prompt);
    r.negative = QString::fromStdString(q.negative_prompt);
    r.seed = q.seed ? QString::number(*q.seed) : QString();
    r.sampler = QString::fromStdString(q.scheduler);
    r.model = fromFsPath(q.model.filename());
    r.steps = q.num_inference_steps;
    r.width = q.width;
    r.height = q.height;
    r.guidance = q.guidance_scale;
    std::vector<std::filesystem::path> adapters;
    for (const auto& a : q.ip_adapters) adapters.push_back(a.path);
    r.adapters = joinNames(adapters);
}

// The A1111 text (ips::parse_a1111_parameters): AUTOMATIC1111, Forge and IP Studio PNGs.
void fillFromParameters(LibraryRecord& r, const std::string& text) {
    const ips::A1111Parameters p = ips::parse_a1111_parameters(text);
    r.prompt = QString::fromStdString(p.prompt);
    r.negative = QString::fromStdString(p.negative_prompt);
    auto field = [&p](const char* key) {
        const auto it = p.fields.find(key);
        return it == p.fields.end() ? QString() : QString::fromStdString(it->second);
    };
    r.steps = field("Steps").toInt();
    r.sampler = field("Sampler");
    r.guidance = field("CFG scale").toDouble();
    r.seed = field("Seed");
    r.model = field("Model");
    const QString size = field("Size");
    r.width = size.section(QLatin1Char('x'), 0, 0).toInt();
    r.height = size.section(QLatin1Char('x'), 1, 1).toInt();
    QStringList adapters;
    const auto [first, last] = p.all_fields.equal_range("IP-Adapter");
    for (auto it = first; it != last; ++it) adapters << QString::fromStdString(it->second).section(QLatin1Char(' '), 0, 0);
    r.adapters = adapters.join(QStringLiteral(", "));
}

}  // namespace

std::map<std::string, std::string> pngMetadata(const ips::GenerationRequest& request, quint64 seed, const QString& pngFile) {
    std::map<std::string, std::string> text{{"parameters", ips::a1111_parameters(request, seed)}};
    ips::GenerationRequest resolved = request;
    resolved.seed = seed;
    try {
        text["ipstudio_request"] = ips::request_to_json(resolved, toFsPath(QFileInfo(pngFile).absolutePath()));
    } catch (const ips::InputError&) {
        // Pictures that exist only in memory (pasted, painted masks, sketches) cannot be referenced from
        // the file; the A1111 parameters still describe the generation.
    }
    return text;
}

ResultLibrary::ResultLibrary(QString folder)
    : folder_(std::move(folder)),
      index_(std::make_unique<LibraryIndex>(QDir(folder_).filePath(QStringLiteral("library.sqlite")))),
      inputs_(QDir(folder_).filePath(QStringLiteral("inputs"))) {}

bool ResultLibrary::open(QString* error, QString* notice) {
    open_ = false;
    if (!QDir().mkpath(QDir(folder_).filePath(kResults))) {
        *error = QStringLiteral("%1: the library folder cannot be created or written").arg(QDir::toNativeSeparators(folder_));
        return false;
    }
    const bool existed = QFileInfo::exists(index_->file());
    QString why;
    if (index_->open(&why)) {
        open_ = true;
        if (!existed && !QDir(QDir(folder_).filePath(kResults)).isEmpty()) {
            // The PNGs are there but the index is not (deleted, or a library copied without it).
            const int n = rebuild(error);
            if (notice) *notice = QStringLiteral("The library index was missing: rebuilt from %1 pictures.").arg(n);
        }
        return true;
    }
    // Damaged or from a newer version: kept aside (never deleted), and a fresh index made from the PNGs.
    const QString aside = index_->file() + QStringLiteral(".damaged");
    QFile::remove(aside);
    QFile::rename(index_->file(), aside);
    for (const QString& sidecar : {QStringLiteral("-wal"), QStringLiteral("-shm")}) QFile::remove(index_->file() + sidecar);
    if (!index_->open(error)) return false;
    open_ = true;
    const int n = rebuild(error);
    if (notice) *notice = QStringLiteral("%1; it was kept as %2 and the index rebuilt from %3 pictures.").arg(why, QFileInfo(aside).fileName()).arg(n);
    return true;
}

ips::GenerationRequest ResultLibrary::withStoredInputs(const ips::GenerationRequest& request, QStringList* names, QString* error) {
    ips::GenerationRequest r = request;
    auto store = [&](ips::ImageSource& source) {
        if (source.empty()) return;
        QJsonObject entry;
        if (source.image) entry = inputs_.putImage(toQImage(*source.image), error);
        else entry = inputs_.put(LoadedImage{fromFsPath(source.path), {}, {}, false}, error);
        const QString name = entry.value(QStringLiteral("picture")).toString();
        if (name.isEmpty()) return;  // a file that vanished: the request keeps naming it
        *names << name;
        source = ips::ImageSource{toFsPath(QDir(inputs_.folder()).filePath(name)), nullptr};
    };
    for (auto& a : r.ip_adapters) {
        for (auto& i : a.images) store(i);
        for (auto& m : a.regions) store(m);
        if (a.negative_image) store(*a.negative_image);
    }
    for (auto& c : r.controlnets) store(c.image);
    if (r.init_image) store(*r.init_image);
    if (r.mask_image) store(*r.mask_image);
    names->removeDuplicates();
    return r;
}

std::optional<LibraryRecord> ResultLibrary::add(const ips::GenerationRequest& request, const QImage& image, quint64 seed, QString* error) {
    if (!open_) {
        *error = QStringLiteral("the library at %1 is not open").arg(QDir::toNativeSeparators(folder_));
        return std::nullopt;
    }
    const QDateTime now = QDateTime::currentDateTime();
    const QString month = QDir(folder_).filePath(kResults + QLatin1Char('/') + now.toString(QStringLiteral("yyyy-MM")));
    if (!QDir().mkpath(month)) {
        *error = QStringLiteral("%1: cannot be created (read-only or full disk?)").arg(QDir::toNativeSeparators(month));
        return std::nullopt;
    }
    QStringList inputNames;
    QString inputError;
    const ips::GenerationRequest stored = withStoredInputs(request, &inputNames, &inputError);
    const QString stem = QStringLiteral("ipstudio-%1-%2").arg(now.toString(QStringLiteral("yyyyMMdd-HHmmss-zzz"))).arg(seed);
    for (int attempt = 0; attempt < 100; ++attempt) {
        const QString file = QDir(month).filePath(stem + (attempt ? QStringLiteral("-%1").arg(attempt + 1) : QString()) + QStringLiteral(".png"));
        if (QFileInfo::exists(file)) continue;
        const std::map<std::string, std::string> metadata = pngMetadata(stored, seed, file);
        try {
            ips::write_png(toFsPath(file), toIpsImage(image), metadata, false);
        } catch (const ips::InputError& e) {
            if (QFileInfo::exists(file)) continue;  // another writer took the name in between
            *error = QString::fromStdString(e.what());
            return std::nullopt;
        }
        LibraryRecord r;
        r.file = QDir(folder_).relativeFilePath(file);
        r.created = now.toMSecsSinceEpoch();
        ips::GenerationRequest described = request;
        described.seed = seed;
        fillFromRequest(r, described);
        r.references = inputNames.join(QStringLiteral(", "));
        if (auto it = metadata.find("ipstudio_request"); it != metadata.end()) r.request = QString::fromStdString(it->second);
        // The PNG is written: even if the index refuses the row, the next rebuild finds it.
        if (!index_->insert(r, error)) return std::nullopt;
        if (!inputError.isEmpty() && error) *error = inputError;
        return r;
    }
    *error = QStringLiteral("%1: no free file name").arg(QDir::toNativeSeparators(month));
    return std::nullopt;
}

LibraryRecord ResultLibrary::recordFromPng(const QString& absoluteFile, const QString& relativeFile) {
    LibraryRecord r;
    r.file = relativeFile;
    r.created = createdOf(QFileInfo(absoluteFile));
    r.deleted = relativeFile.startsWith(kTrash + QLatin1Char('/'));
    std::map<std::string, std::string> text;
    try {
        text = ips::read_png_text(toFsPath(absoluteFile));
    } catch (const ips::Error&) {
        return r;  // unreadable metadata: still a picture of the library
    }
    if (auto it = text.find("ipstudio_request"); it != text.end()) {
        try {
            const ips::GenerationRequest q = ips::parse_request_json(it->second, toFsPath(QFileInfo(absoluteFile).absolutePath()), relativeFile.toStdString());
            fillFromRequest(r, q);
            r.request = QString::fromStdString(it->second);
            QStringList inputs;
            static const QRegularExpression hashName(QStringLiteral("inputs/([0-9a-f]{64}\\.\\w+)"));
            for (auto m = hashName.globalMatch(r.request); m.hasNext();) inputs << m.next().captured(1);
            inputs.removeDuplicates();
            r.references = inputs.join(QStringLiteral(", "));
            return r;
        } catch (const ips::Error&) {
            // An unreadable request: the A1111 text below still describes it.
        }
    }
    if (auto it = text.find("parameters"); it != text.end()) fillFromParameters(r, it->second);
    return r;
}

int ResultLibrary::rebuild(QString* error) {
    const QJsonObject marked = marks();
    index_->begin();
    int n = 0;
    for (const QString& top : {kResults, kTrash}) {
        QDirIterator it(QDir(folder_).filePath(top), {QStringLiteral("*.png")}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString file = it.next();
            LibraryRecord r = recordFromPng(file, QDir(folder_).relativeFilePath(file));
            const QJsonObject mark = marked.value(QFileInfo(file).fileName()).toObject();
            r.favourite = mark.value(QStringLiteral("favourite")).toBool();
            r.board = mark.value(QStringLiteral("board")).toString();
            if (index_->insert(r, error)) ++n;
        }
    }
    index_->commit();
    return n;
}

int ResultLibrary::importFolder(const QString& source, QString* error) {
    const QString into = QDir(folder_).filePath(kResults + QStringLiteral("/imported"));
    QDir().mkpath(into);
    int n = 0;
    QDirIterator it(source, {QStringLiteral("*.png"), QStringLiteral("*.PNG")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QFileInfo from(it.next());
        QString target = QDir(into).filePath(from.fileName());
        for (int k = 2; QFileInfo::exists(target); ++k) target = QDir(into).filePath(QStringLiteral("%1-%2.png").arg(from.completeBaseName()).arg(k));
        if (!QFile::copy(from.absoluteFilePath(), target)) {
            if (error) *error = QStringLiteral("%1: could not be copied into %2").arg(from.absoluteFilePath(), into);
            continue;
        }
        LibraryRecord r = recordFromPng(target, QDir(folder_).relativeFilePath(target));
        r.created = from.lastModified().toMSecsSinceEpoch();
        if (index_->insert(r, error)) ++n;
    }
    return n;
}

QString ResultLibrary::pathOf(const LibraryRecord& record) const { return QDir(folder_).filePath(record.file); }

QString ResultLibrary::thumbnailOf(const LibraryRecord& record) const {
    const QString name = QString::fromLatin1(QCryptographicHash::hash(QFileInfo(record.file).fileName().toUtf8(), QCryptographicHash::Sha1).toHex());
    return QDir(folder_).filePath(QStringLiteral("thumbnails/%1.png").arg(name));
}

bool ResultLibrary::moveFile(LibraryRecord& record, const QString& toTop, bool deleted, QString* error) {
    const QString relative = toTop + record.file.mid(record.file.indexOf(QLatin1Char('/')));
    const QString from = pathOf(record), to = QDir(folder_).filePath(relative);
    QDir().mkpath(QFileInfo(to).absolutePath());
    // rename() never crosses disks here (one library folder) and is atomic; an existing target is not replaced.
    if (QFileInfo::exists(to) || !QFile::rename(from, to)) {
        if (error) *error = QStringLiteral("%1: could not be moved to %2").arg(QDir::toNativeSeparators(from), QDir::toNativeSeparators(to));
        return false;
    }
    // The PNG names its inputs relative to its folder; the trash keeps the same depth, so they still resolve.
    if (!index_->setDeleted(record.id, deleted, relative)) return false;
    record.file = relative;
    record.deleted = deleted;
    return true;
}

bool ResultLibrary::moveToTrash(LibraryRecord& record, QString* error) { return record.deleted || moveFile(record, kTrash, true, error); }
bool ResultLibrary::restoreFromTrash(LibraryRecord& record, QString* error) { return !record.deleted || moveFile(record, kResults, false, error); }

int ResultLibrary::emptyTrash(QString* error) {
    LibraryFilter trash;
    trash.trash = true;
    int n = 0;
    for (const LibraryRecord& r : index_->query(trash, 0, std::numeric_limits<int>::max())) {
        if (QFileInfo::exists(pathOf(r)) && !QFile::remove(pathOf(r))) {
            if (error) *error = QStringLiteral("%1: could not be deleted").arg(QDir::toNativeSeparators(pathOf(r)));
            continue;
        }
        QFile::remove(thumbnailOf(r));
        index_->remove(r.id);
        ++n;
    }
    return n;
}

QJsonObject ResultLibrary::marks() const {
    QFile file(QDir(folder_).filePath(QStringLiteral("marks.json")));
    return file.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(file.readAll()).object() : QJsonObject();
}

void ResultLibrary::saveMark(const LibraryRecord& record) {
    QJsonObject all = marks();
    const QString key = QFileInfo(record.file).fileName();
    if (!record.favourite && record.board.isEmpty()) all.remove(key);
    else all.insert(key, QJsonObject{{QStringLiteral("favourite"), record.favourite}, {QStringLiteral("board"), record.board}});
    QSaveFile file(QDir(folder_).filePath(QStringLiteral("marks.json")));
    if (file.open(QIODevice::WriteOnly)) {
        file.write(QJsonDocument(all).toJson());
        file.commit();
    }
}

bool ResultLibrary::setFavourite(LibraryRecord& record, bool favourite) {
    if (!index_->setFavourite(record.id, favourite)) return false;
    record.favourite = favourite;
    saveMark(record);
    return true;
}

bool ResultLibrary::setBoard(LibraryRecord& record, const QString& board) {
    if (!index_->setBoard(record.id, board)) return false;
    record.board = board;
    saveMark(record);
    return true;
}

}  // namespace ipsui
