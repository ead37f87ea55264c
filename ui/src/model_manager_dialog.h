#pragma once
// Settings > Model manager: the recommended models (what is missing, with sizes; download with progress,
// speed and ETA, pause, resume, cancel) and the models already on this computer (the Hugging Face cache
// and ComfyUI / AUTOMATIC1111 / InvokeAI folders the user adds), each usable in place with one click.
#include <QDialog>
#include <QHash>
#include <QPointer>

#include "ips/model_discovery.h"
#include "model_catalog.h"
#include "model_config.h"

class QLabel;
class QLineEdit;
class QNetworkAccessManager;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;

namespace ipsui {

class CatalogDownload;

class ModelManagerDialog : public QDialog {
    Q_OBJECT
public:
    ModelManagerDialog(QString modelsFolder, QWidget* parent = nullptr);

    // Public for tests: the rows shown and the scan of one folder.
    QTreeWidget* catalogView() const { return catalogView_; }
    QTreeWidget* foundView() const { return foundView_; }
    void scanFolder(const QString& folder);
    void scanHubCache();

Q_SIGNALS:
    // The user chose a model (downloaded or found) for a role.
    void modelChosen(ipsui::ModelRole role, const QString& path);

private:
    QWidget* catalogPage();
    QWidget* foundPage();
    void refreshCatalog();
    void updateRow(QTreeWidgetItem* row);
    void download(const QString& id);
    void downloadRecommended();
    void useFound();
    void addFoundRows(const std::vector<ips::DiscoveredModel>& found);

    QString modelsFolder_;
    ModelCatalog catalog_;
    QNetworkAccessManager* network_;
    QHash<QString, QPointer<CatalogDownload>> downloads_;
    QHash<QString, QString> status_;  // per model id: the last progress or error text
    QTreeWidget* catalogView_ = nullptr;
    QTreeWidget* foundView_ = nullptr;
    QLineEdit* token_ = nullptr;
    QLabel* message_ = nullptr;
    QStringList scannedFolders_;
};

}  // namespace ipsui
