#pragma once
// The recommended models (models/catalog.json, compiled in as :/models/catalog.json): where each file
// comes from on the Hugging Face Hub, its size and SHA-256, and where it goes in the models folder.
#include <QList>
#include <QString>
#include <QUrl>

namespace ipsui {

struct CatalogFile {
    QString path;      // in the repository
    qint64 size = -1;  // -1: unknown
    QString sha256;    // lower-case hex; empty: unknown (the Hub's X-Linked-ETag is checked instead)
    QString saveAs;    // the file's name in its folder when not the repository's (empty: the path's)
};

struct CatalogModel {
    QString id, name;
    QString role;  // "base-model", "ip-adapter", "image-encoder", "controlnet", "vae", "preview-decoder", "lora"
    QString base;  // "sd1.x"
    QString repo, revision;
    QString folder;       // below the models folder
    QString stripPrefix;  // removed from file paths when saving
    bool recommended = false;
    QList<CatalogFile> files;

    qint64 knownSize() const;  // sum of the known file sizes
    QUrl url(const QString& hub, const CatalogFile& file) const;
    QString destination(const QString& modelsFolder, const CatalogFile& file) const;
    // What the app is pointed at once installed: the folder, or the file of a one-file model.
    QString installedPath(const QString& modelsFolder) const;
    bool isInstalled(const QString& modelsFolder) const;
};

struct ModelCatalog {
    QString hub = QStringLiteral("https://huggingface.co");
    QList<CatalogModel> models;

    // Parses catalog JSON; throws ips::InputError naming `what` and the bad field.
    static ModelCatalog parse(const QByteArray& json, const QString& what);
    static ModelCatalog builtIn();  // the compiled-in catalog
    const CatalogModel* find(const QString& id) const;
    // The model one of whose files is saved under this file name (a preset names its LoRAs so).
    const CatalogModel* findByFileName(const QString& fileName) const;
};

}  // namespace ipsui
