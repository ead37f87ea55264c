#pragma once
// The IP Studio window: image prompt, ControlNet and LoRAs on the left, the canvas (result / init image and
// mask), prompts and Generate in the middle, settings, presets and history on the right.
#include <QJsonObject>
#include <QMainWindow>
#include <QPointer>
#include <memory>
#include <optional>

#include "ips/generation.h"
#include "embedding_library.h"
#include "lora_library.h"
#include "model_config.h"

class QAction;
class QComboBox;
class QLabel;
class QMenu;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSplitter;
class QTabWidget;

namespace ipsui {

class CanvasView;
class PromptTokenCounter;
class ControlPanel;
class HistoryPanel;
class LiveBar;
class LiveController;
class InitImagePanel;
class LoraPanel;
class PresetStore;
class ReferencePanel;
class SettingsPanel;
class WorkerHost;
class WorkSession;
class ResultLibrary;
struct GenerationOutcome;

struct AppContext {
    QString dataFolder;   // presets live in dataFolder/presets, downloaded models in dataFolder/models
    QString cacheFolder;  // copies of results for dragging out
    ips::PipelineOptions pipeline;
    // Where the work in progress is autosaved (state.json + pictures/); empty: not saved, not restored.
    QString sessionFolder;
    // The result library's default folder (the setting "library/folder" moves it); empty: no library,
    // results live for the session only.
    QString libraryFolder;
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(AppContext context, QWidget* parent = nullptr);
    ~MainWindow() override;

    // The request the current state describes; nothing (and `error` set) when something is missing.
    std::optional<ips::GenerationRequest> buildRequest(QString* error) const;
    // Everything but pictures: what presets and the saved session hold.
    ips::GenerationRequest settingsRequest() const;
    // Keeps the current pictures. The LoRA list is replaced when the request has LoRAs or `offLoras` (those
    // switched off, which a request cannot carry) is not empty.
    void applySettings(const ips::GenerationRequest& request, const QList<LoraEntry>& offLoras = {});
    void applyRequest(const ips::GenerationRequest& request);   // everything, pictures included (history)

    // The whole work in progress (main_window_session.cpp): prompts, settings, LoRAs, references with
    // regions, ControlNet units with maps and sketches, init image and mask with their undo steps. Pictures
    // go to the session's picture store. What autosave writes and Undo puts back.
    QJsonObject workState(QString* error = nullptr);
    void applyWorkState(const QJsonObject& state);
    // Writes the work in progress now (it is also written a moment after each change and before each run).
    bool autosaveNow();
    WorkSession* workSession() const { return session_.get(); }
    ResultLibrary* library() const { return library_.get(); }
    // Opens the library at `folder` (the gallery shows it; new results go there) and remembers the choice.
    bool useLibraryFolder(const QString& folder);
    // Keeps the current state as one undo step named `what`, before an action replaces it.
    void rememberForUndo(const QString& what);
    // Puts back the state before the last remembered action; false when there is none.
    bool undoLastAction();
    QString undoText() const;  // "Undo restore result #3", or empty

    void setModelConfig(const ModelConfig& config);
    const ModelConfig& modelConfig() const { return models_; }

    void generate();
    // Closes without asking (a termination signal): a running job is stopped, the work saved.
    void closeWithoutAsking();
    // Runs `request` as Generate does (its result goes to the history); false while a job of the window runs.
    bool run(const ips::GenerationRequest& request);
    void cancel();
    bool isGenerating() const;
    // A job of the window's own (Generate, Refine, Keep) is running; a Live frame is not one.
    bool windowJobRunning() const;

    // The banner over the top of the canvas (it never moves the controls). A kind other than Error/Info is
    // taken down by itself once what it reports is fixed.
    enum class Banner { Error, Info, ModelAdvice, RequestProblem };
    void showMessage(const QString& text, bool error = true);
    void showBanner(const QString& text, Banner kind);
    QString messageText() const;
    QString statusText() const;
    // "Loading models · 1.2 GB read · 12 s": the loading stage's own progress (never step time).
    static QString loadingText(quint64 bytesLoaded, double seconds);
    QWidget* banner() const { return messageBar_; }

    // Presets (also behind the preset bar's buttons).
    bool savePreset(const QString& name, bool overwrite);
    bool loadPreset(const QString& name);
    void undoPresetLoad();  // puts back the settings from before the last preset load
    QComboBox* presetBox() const { return presetBox_; }
    QString loadedPreset() const { return loadedPreset_; }
    // What a preset keeps and what not, as the save dialog says it.
    static QString presetContentsText();
    PresetStore& presets() { return *presets_; }

    ReferencePanel* references() const { return references_; }
    SettingsPanel* settings() const { return settings_; }
    InitImagePanel* initImage() const { return init_; }
    ControlPanel* controls() const { return controls_; }
    LoraPanel* loras() const { return loras_; }
    HistoryPanel* history() const { return history_; }
    CanvasView* resultCanvas() const { return result_; }
    QPlainTextEdit* promptEdit() const { return prompt_; }
    QPlainTextEdit* negativeEdit() const { return negative_; }
    PromptTokenCounter* promptTokens() const { return promptTokens_; }
    QTabWidget* canvasTabs() const { return canvasTabs_; }
    WorkerHost* worker() const { return host_; }
    LiveController* live() const { return live_; }
    LiveBar* liveBar() const { return liveBar_; }
    QAction* liveAction() const { return liveAction_; }

Q_SIGNALS:
    void generationEnded();  // finished, failed or cancelled

protected:
    void closeEvent(QCloseEvent*) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

public:
    // Settings > Model manager (non-modal; offered by itself on the first run without models).
    QDialog* openModelManager();

private:
    QWidget* buildLeftColumn();
    QWidget* buildCenterColumn();
    QWidget* buildRightColumn();
    void buildMenus();
    void connectWorker();
    void refreshPresetList(const QString& select = {});
    void openModelsDialog();
    void restoreSession();
    void startWorkSession();  // claims the session folder and restores the autosaved work
    void scheduleAutosave();
    void useChosenModel(ModelRole role, const QString& path);
    void useChosenLora(const QString& path);  // from the model manager: into the LoRA list
    void saveSession();
    void setBusy(bool busy);
    void onFinished(const GenerationOutcome& outcome);
    void showHistoryEntry(int index);
    void placeBanner();
    void recheckBanner();  // a RequestProblem or ModelAdvice banner goes once fixed
    // Replaces the LoRA list; missing files are listed as missing, not sent, and named in the status bar.
    void restoreLoras(const QList<LoraEntry>& entries);
    QString withLoraNote(const QString& status) const;
    void setupLive();   // main_window_live.cpp
    void liveEdited();  // an edit a live frame depends on
    void refineLive();  // the live frame's seed through the full settings
    void showAbout();
    void showShortcuts();
    void openResultsFolder();

    AppContext context_;
    ModelConfig models_;
    QPointer<QDialog> modelManager_;
    PresetStore* presets_;
    WorkerHost* host_;
    ReferencePanel* references_;
    ControlPanel* controls_;
    LoraPanel* loras_;
    SettingsPanel* settings_;
    InitImagePanel* init_;
    HistoryPanel* history_;
    CanvasView* result_;
    LiveBar* liveBar_ = nullptr;
    LiveController* live_ = nullptr;
    QAction* liveAction_ = nullptr;
    QMenu* generateMenu_ = nullptr;
    QTabWidget* canvasTabs_;
    QPlainTextEdit* prompt_;
    QPlainTextEdit* negative_;
    PromptTokenCounter* promptTokens_;
    PromptTokenCounter* negativeTokens_;
    QList<EmbeddingFile> embeddings_;  // found beside the models: used when a prompt names one
    QPushButton* generate_;
    QPushButton* cancel_;
    QProgressBar* progress_;
    QLabel* stage_;
    QLabel* message_;
    QWidget* messageBar_;
    QComboBox* presetBox_;
    QSplitter* splitter_;
    QSize activeOutputSize_;
    Banner bannerKind_ = Banner::Info;
    QString loadedPreset_;
    std::optional<ips::GenerationRequest> beforePreset_;  // for undoPresetLoad
    QList<LoraEntry> beforePresetLoras_;                  // with their on/off, which the request lacks
    QString loraNote_;  // the last LoRA restore's missing files, for the status bar
    double denoiseStartSeconds_ = -1;  // the job's elapsed time when its first step began: ETA from steps only
    class QTimer* loadingTicker_ = nullptr;
    double stageStartedMs_ = 0;
    quint64 bytesLoaded_ = 0;  // weights read in the current "loading models" stage
    std::unique_ptr<WorkSession> session_;
    std::unique_ptr<ResultLibrary> library_;
    class QTimer* autosaveTimer_ = nullptr;
    struct UndoStep {
        QString what;
        QJsonObject state;
    };
    QList<UndoStep> undoSteps_;
    QAction* undoAction_ = nullptr;
    bool applyingState_ = false;
    bool closeWhenDone_ = false;  // "Finish it, then close"
    bool closingWithoutAsking_ = false;
    QString lastAutosaveProblem_;  // said once, not on every retry  // restoring a state is not itself an undoable action
};

}  // namespace ipsui
