#include "preset_store.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "ips/errors.h"
#include "ips/request_json.h"
#include "lora_library.h"
#include "qt_convert.h"

namespace ipsui {

namespace {
const QString kSuffix = QStringLiteral(".json");

[[noreturn]] void fail(const QString& message) { throw ips::InputError(message.toStdString()); }

QStringList presetNames(const QString& folder) {
    QStringList names;
    for (const QFileInfo& f : QDir(folder).entryInfoList({QStringLiteral("*.json")}, QDir::Files, QDir::Name))
        names << f.completeBaseName();
    return names;
}
}  // namespace

PresetStore::PresetStore(QString userFolder, QString builtInFolder)
    : userFolder_(std::move(userFolder)), builtInFolder_(std::move(builtInFolder)) {}

QString PresetStore::userFile(const QString& name) const { return QDir(userFolder_).filePath(name + kSuffix); }
QString PresetStore::builtInFile(const QString& name) const { return QDir(builtInFolder_).filePath(name + kSuffix); }

QString PresetStore::disabledLorasFile(const QString& name) const {
    return QDir(userFolder_).filePath(QStringLiteral("disabled-loras/") + name + kSuffix);
}

QList<PresetInfo> PresetStore::list() const {
    QList<PresetInfo> out;
    for (const QString& n : presetNames(builtInFolder_)) out.append({n, true});
    for (const QString& n : presetNames(userFolder_))
        if (!QFileInfo::exists(builtInFile(n))) out.append({n, false});
    return out;
}

bool PresetStore::isBuiltIn(const QString& name) const { return QFileInfo::exists(builtInFile(name)); }
bool PresetStore::exists(const QString& name) const { return isBuiltIn(name) || QFileInfo::exists(userFile(name)); }

QString PresetStore::nameProblem(const QString& name) {
    const QString trimmed = name.trimmed();
    if (trimmed.isEmpty()) return QStringLiteral("a preset needs a name");
    if (trimmed != name) return QStringLiteral("a preset name cannot start or end with spaces");
    if (name.size() > 100) return QStringLiteral("a preset name can have at most 100 characters");
    if (name.startsWith(QLatin1Char('.'))) return QStringLiteral("a preset name cannot start with '.'");
    for (QChar c : name)
        if (QStringLiteral("/\\:*?\"<>|").contains(c) || c.unicode() < 32)
            return QStringLiteral("a preset name cannot contain '%1'").arg(c.unicode() < 32 ? QStringLiteral("control characters") : QString(c));
    return {};
}

ips::GenerationRequest PresetStore::load(const QString& name) const {
    if (isBuiltIn(name)) {
        QFile file(builtInFile(name));
        if (!file.open(QIODevice::ReadOnly)) fail(QStringLiteral("built-in preset '%1' is missing").arg(name));
        return ips::parse_request_json(file.readAll().toStdString(), {}, ("preset '" + name + "'").toStdString());
    }
    const QString path = userFile(name);
    if (!QFileInfo::exists(path)) fail(QStringLiteral("preset '%1' does not exist (%2)").arg(name, path));
    return ips::read_request_file(toFsPath(path));
}

void PresetStore::save(const QString& name, const ips::GenerationRequest& request, bool overwrite,
                       const std::vector<ips::LoraSettings>& disabledLoras) {
    if (const QString problem = nameProblem(name); !problem.isEmpty()) fail(problem);
    if (isBuiltIn(name)) fail(QStringLiteral("'%1' is a built-in preset; save under another name").arg(name));
    const QString path = userFile(name);
    if (!overwrite && QFileInfo::exists(path)) fail(QStringLiteral("preset '%1' already exists").arg(name));
    if (!QDir().mkpath(userFolder_)) fail(QStringLiteral("cannot create the preset folder %1").arg(userFolder_));
    ips::write_request_file(toFsPath(path), request, overwrite);  // never replaces a file that appeared meanwhile
    const QString offFile = disabledLorasFile(name);
    QFile::remove(offFile);  // an older save's
    if (disabledLoras.empty()) return;
    QList<LoraEntry> off = lorasFromRequest(disabledLoras);
    for (LoraEntry& e : off) e.enabled = false;
    QFile file(offFile);
    if (!QDir().mkpath(QFileInfo(offFile).absolutePath()) || !file.open(QIODevice::WriteOnly) || file.write(lorasToJson(off).toUtf8()) < 0)
        fail(QStringLiteral("cannot write the switched-off LoRAs of preset '%1' to %2").arg(name, offFile));
}

std::vector<ips::LoraSettings> PresetStore::disabledLoras(const QString& name) const {
    QFile file(disabledLorasFile(name));
    if (isBuiltIn(name) || !file.open(QIODevice::ReadOnly)) return {};
    return toLoraSettings(lorasFromJson(QString::fromUtf8(file.readAll())));
}

void PresetStore::rename(const QString& from, const QString& to) {
    if (isBuiltIn(from)) fail(QStringLiteral("'%1' is a built-in preset and cannot be renamed").arg(from));
    if (const QString problem = nameProblem(to); !problem.isEmpty()) fail(problem);
    if (!QFileInfo::exists(userFile(from))) fail(QStringLiteral("preset '%1' does not exist").arg(from));
    if (exists(to)) fail(QStringLiteral("preset '%1' already exists").arg(to));
    // Paths inside are relative to the folder, which does not change: a plain rename keeps them right.
    if (!QFile::rename(userFile(from), userFile(to)))
        fail(QStringLiteral("cannot rename preset '%1' to '%2' in %3").arg(from, to, userFolder_));
    QFile::rename(disabledLorasFile(from), disabledLorasFile(to));  // when there is one
}

void PresetStore::remove(const QString& name) {
    if (isBuiltIn(name)) fail(QStringLiteral("'%1' is a built-in preset and cannot be deleted").arg(name));
    if (!QFile::remove(userFile(name))) fail(QStringLiteral("cannot delete preset '%1' (%2)").arg(name, userFile(name)));
    QFile::remove(disabledLorasFile(name));
}

}  // namespace ipsui
