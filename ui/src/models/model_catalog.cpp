#include "model_catalog.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <nlohmann/json.hpp>

#include "ips/errors.h"

namespace ipsui {
namespace {

QString text(const nlohmann::json& j, const char* key, const QString& what, bool required = true) {
    if (!j.contains(key) || j[key].is_null()) {
        if (required) throw ips::InputError(what.toStdString() + ": \"" + key + "\" is missing");
        return {};
    }
    if (!j[key].is_string()) throw ips::InputError(what.toStdString() + ": \"" + key + "\" must be a string");
    return QString::fromStdString(j[key].get<std::string>());
}

}  // namespace

qint64 CatalogModel::knownSize() const {
    qint64 total = 0;
    for (const auto& f : files)
        if (f.size > 0) total += f.size;
    return total;
}

QUrl CatalogModel::url(const QString& hub, const CatalogFile& file) const {
    const QString rev = revision.isEmpty() ? QStringLiteral("main") : revision;
    return QUrl(hub + "/" + repo + "/resolve/" + rev + "/" + file.path);
}

QString CatalogModel::destination(const QString& modelsFolder, const CatalogFile& file) const {
    QString relative = file.path;
    if (!stripPrefix.isEmpty() && relative.startsWith(stripPrefix)) relative = relative.mid(stripPrefix.size());
    if (!file.saveAs.isEmpty()) relative = relative.left(relative.lastIndexOf('/') + 1) + file.saveAs;
    return QDir(QDir(modelsFolder).filePath(folder)).filePath(relative);
}

QString CatalogModel::installedPath(const QString& modelsFolder) const {
    if (files.size() == 1) return destination(modelsFolder, files.front());
    return QDir(modelsFolder).filePath(folder);
}

bool CatalogModel::isInstalled(const QString& modelsFolder) const {
    for (const auto& f : files)
        if (!QFileInfo::exists(destination(modelsFolder, f))) return false;
    return !files.isEmpty();
}

ModelCatalog ModelCatalog::parse(const QByteArray& json, const QString& what) {
    const auto j = nlohmann::json::parse(json.constData(), json.constData() + json.size(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw ips::InputError(what.toStdString() + ": not valid JSON");
    if (!j.contains("schema") || !j["schema"].is_number_integer() || j["schema"].get<int>() != 1)
        throw ips::InputError(what.toStdString() + ": expected \"schema\": 1");
    ModelCatalog catalog;
    if (const QString hub = text(j, "hub", what, false); !hub.isEmpty()) catalog.hub = hub;
    if (!j.contains("models") || !j["models"].is_array()) throw ips::InputError(what.toStdString() + ": \"models\" must be a list");
    for (const auto& m : j["models"]) {
        if (!m.is_object()) throw ips::InputError(what.toStdString() + ": every model must be an object");
        CatalogModel model;
        model.id = text(m, "id", what);
        const QString where = what + " (" + model.id + ")";
        model.name = text(m, "name", where);
        model.role = text(m, "role", where);
        model.base = text(m, "base", where, false);
        model.repo = text(m, "repo", where);
        model.revision = text(m, "revision", where, false);
        model.folder = text(m, "folder", where);
        model.stripPrefix = text(m, "strip_prefix", where, false);
        model.recommended = m.value("recommended", false);
        if (model.folder.contains("..") || QDir::isAbsolutePath(model.folder))
            throw ips::InputError(where.toStdString() + ": \"folder\" must stay inside the models folder");
        if (!m.contains("files") || !m["files"].is_array() || m["files"].empty())
            throw ips::InputError(where.toStdString() + ": \"files\" must be a non-empty list");
        for (const auto& f : m["files"]) {
            CatalogFile file;
            file.path = text(f, "path", where);
            if (file.path.contains("..") || QDir::isAbsolutePath(file.path))
                throw ips::InputError(where.toStdString() + ": file paths must be relative, without ..");
            if (f.contains("size") && f["size"].is_number_integer()) file.size = f["size"].get<qint64>();
            file.sha256 = text(f, "sha256", where, false).toLower();
            file.saveAs = text(f, "save_as", where, false);
            if (file.saveAs.contains('/') || file.saveAs.contains('\\') || file.saveAs == ".." || file.saveAs == ".")
                throw ips::InputError(where.toStdString() + ": \"save_as\" must be a file name");
            model.files.push_back(file);
        }
        catalog.models.push_back(model);
    }
    return catalog;
}

ModelCatalog ModelCatalog::builtIn() {
    QFile f(QStringLiteral(":/models/catalog.json"));
    if (!f.open(QIODevice::ReadOnly)) throw ips::InputError("the built-in model catalog is missing");
    return parse(f.readAll(), QStringLiteral("the built-in model catalog"));
}

const CatalogModel* ModelCatalog::find(const QString& id) const {
    for (const auto& m : models)
        if (m.id == id) return &m;
    return nullptr;
}

const CatalogModel* ModelCatalog::findByFileName(const QString& fileName) const {
    for (const auto& m : models)
        for (const auto& f : m.files)
            if (QFileInfo(m.destination(QString(), f)).fileName() == fileName) return &m;
    return nullptr;
}

}  // namespace ipsui
