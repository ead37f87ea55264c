#pragma once
// Settings > Model manager: the recommended models (what is missing, with sizes; download with progress,
// speed and ETA, pause, resume, cancel) and the models already on this computer (the Hugging Face cache
// and ComfyUI / AUTOMATIC1111 / InvokeAI folders the user adds), each usable in place with one click.
#include <QDialog>
#include <QHash>
#include <QPointer>
#include <vector>

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
    QLabel* catalogMessage() const { return catalogMessage_; }
    QLabel* foundMessage() const { return foundMessage_; }
    QLineEdit* tokenEdit() const { return token_; }
    // Replaces the built-in catalog (tests point it at an unreachable host).
    void setCatalog(const ModelCatalog& catalog);
    void downloadRecommended();
    // The status text of a catalog row (what its Status column shows).
    QString rowStatus(const QString& id) const;
    // "8 models, 55 other files": what the found list holds.
    QString countText() const;
    // At most this many files download at once; the other models wait their turn ("queued").
    static constexpr int kParallelDownloads = 2;
    // Both run off the UI thread; scanFinished says when their rows are there.
    void scanFolder(const QString& folder);
    void scanHubCache();

Q_SIGNALS:
    // The user chose a model (downloaded or found) for a role.
    void modelChosen(ipsui::ModelRole role, const QString& path);
    // The user chose a LoRA (a catalog speed LoRA or one found): it goes into the LoRA list.
    void loraChosen(const QString& path);
    // A catalog model finished downloading (LoRAs: the LoRA list's library looks again).
    void modelInstalled(const QString& role, const QString& path);
    // A scan (of `where`: a folder or the Hugging Face cache) ended and its rows are shown.
    void scanFinished(const QString& where);

private:
    QWidget* catalogPage();
    QWidget* foundPage();
    void refreshCatalog();
    void updateRow(QTreeWidgetItem* row);
    void download(const QString& id);
    void startQueued();
    void beginDownload(const QString& id);  // after the host lookup succeeded
    QTreeWidgetItem* catalogRow(const QString& id) const;
    void useFound();
    void addFound(const std::vector<ips::DiscoveredModel>& found, const QString& replaceSource = {});
    void rebuildFoundView();
    QTreeWidgetItem* foundRow(const ips::DiscoveredModel& m, QTreeWidgetItem* parent);

    QString modelsFolder_;
    ModelCatalog catalog_;
    QNetworkAccessManager* network_;
    QHash<QString, QPointer<CatalogDownload>> downloads_;
    QHash<QString, QString> status_;  // per model id: the last progress or error text
    QTreeWidget* catalogView_ = nullptr;
    QTreeWidget* foundView_ = nullptr;
    QLineEdit* token_ = nullptr;
    class AccessTokenStore* tokens_ = nullptr;
    QString savedToken_;

    QStringList queue_;  // model ids waiting for a free download slot, in order
    int scanSerial_ = 0;  // the latest scan's number: only its outcome goes in the found tab's message
    int lookups_ = 0;    // host lookups in flight (each holds a download slot)
    QLabel* catalogMessage_ = nullptr;  // each tab has its own, so an error shows where it belongs
    QLabel* foundMessage_ = nullptr;
    QStringList scannedFolders_;
    std::pair<int, int> foundCounts_{0, 0};  // models, other files
    std::vector<ips::DiscoveredModel> found_;  // every scan's results; the view is rebuilt from them
};

}  // namespace ipsui
