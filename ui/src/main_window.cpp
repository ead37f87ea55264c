#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDesktopServices>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QKeySequence>
#include <QLabel>
#include <QLocale>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolButton>
#include <QUrl>

#include "canvas_view.h"
#include "embedding_library.h"
#include "control_panel.h"
#include "history_panel.h"
#include "init_image_panel.h"
#include "live_bar.h"
#include "live_controller.h"
#include "ips/errors.h"
#include "ips/request_json.h"
#include "ips/runtime.h"
#include "ips/system_info.h"
#include "ips/version.h"
#include "lora_panel.h"
#include "model_manager_dialog.h"
#include "models_dialog.h"
#include "preset_store.h"
#include "prompt_token_counter.h"
#include "qt_convert.h"
#include "reference_panel.h"
#include "screen_fit.h"
#include "settings_panel.h"
#include "sketch_pad.h"
#include "worker_host.h"
#include "work_session.h"
#include "result_library.h"

namespace ipsui {

namespace {

QGroupBox* group(const QString& title, QWidget* content) {
    auto* box = new QGroupBox(title);
    auto* layout = new QVBoxLayout(box);
    layout->addWidget(content);
    return box;
}

QString durationText(double seconds) {
    const int s = static_cast<int>(seconds + 0.5);
    return s >= 60 ? QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0')) : QStringLiteral("%1 s").arg(s);
}

// "2.9 s/step · ETA 0:49", from the denoising steps' own time (model loading and encoding excluded).
QString stepTimeText(double denoisingSeconds, int step, int total) {
    if (step <= 0) return {};
    const double perStep = denoisingSeconds / step;
    return QObject::tr("%1 s/step \u00b7 ETA %2").arg(perStep, 0, 'f', perStep < 10 ? 1 : 0).arg(durationText(perStep * (total - step)));
}

}  // namespace

MainWindow::MainWindow(AppContext context, QWidget* parent)
    : QMainWindow(parent),
      context_(std::move(context)),
      presets_(new PresetStore(QDir(context_.dataFolder).filePath(QStringLiteral("presets")))),
      host_(new WorkerHost(context_.pipeline, this)) {
    setWindowTitle(QStringLiteral("IP Studio"));
    resize(1440, 900);

    auto* central = new QWidget;
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(6, 6, 6, 6);
    // The banner floats over the top of the canvas instead of taking a row: showing it never moves a control.
    messageBar_ = new QWidget(central);
    messageBar_->setObjectName(QStringLiteral("messageBar"));
    auto* messageLayout = new QHBoxLayout(messageBar_);
    messageLayout->setContentsMargins(8, 4, 4, 4);
    message_ = new QLabel;
    message_->setWordWrap(true);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    message_->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::LinksAccessibleByMouse);
    connect(message_, &QLabel::linkActivated, this, [this](const QString& link) {
        if (link == QLatin1String("undo-preset")) undoPresetLoad();
        if (link == QLatin1String("undo-action") && undoLastAction()) messageBar_->hide();
        if (link == QLatin1String("undo-lora") && loras_->undoRemove()) {
            messageBar_->hide();
            stage_->setText(tr("LoRA put back"));
        }
    });
    auto* dismiss = new QToolButton;
    dismiss->setText(QStringLiteral("\u2715"));
    dismiss->setAutoRaise(true);
    messageLayout->addWidget(message_, 1);
    messageLayout->addWidget(dismiss, 0, Qt::AlignTop);
    messageBar_->setAttribute(Qt::WA_StyledBackground);
    messageBar_->hide();
    connect(dismiss, &QToolButton::clicked, messageBar_, &QWidget::hide);

    splitter_ = new QSplitter(Qt::Horizontal);
    splitter_->addWidget(buildLeftColumn());
    splitter_->addWidget(buildCenterColumn());
    splitter_->addWidget(buildRightColumn());
    splitter_->setStretchFactor(0, 0);
    splitter_->setStretchFactor(1, 1);
    splitter_->setStretchFactor(2, 0);
    splitter_->setSizes({400, 700, 340});
    layout->addWidget(splitter_, 1);
    setCentralWidget(central);

    stage_ = new QLabel(tr("Ready"));
    statusBar()->addWidget(stage_, 1);
    loadingTicker_ = new QTimer(this);
    loadingTicker_->setInterval(500);
    connect(loadingTicker_, &QTimer::timeout, this, [this] {
        // The busy bar draws no text, so the loading progress goes to the status bar.
        stage_->setText(loadingText(bytesLoaded_, (QDateTime::currentMSecsSinceEpoch() - stageStartedMs_) / 1000.0));
    });
    canvasTabs_->installEventFilter(this);
    // A banner about a missing input goes by itself once the input is there.
    const auto recheck = [this] { QTimer::singleShot(0, this, &MainWindow::recheckBanner); };
    connect(references_, &ReferencePanel::changed, this, recheck);
    connect(controls_, &ControlPanel::changed, this, recheck);
    connect(loras_, &LoraPanel::changed, this, recheck);
    connect(settings_, &SettingsPanel::outputSizeChanged, this, recheck);
    for (auto* counter : {promptTokens_, negativeTokens_}) {
        counter->setSyntax(settings_->promptSyntax());
        connect(settings_, &SettingsPanel::promptSyntaxChanged, counter, &PromptTokenCounter::setSyntax);
    }

    buildMenus();
    connectWorker();
    setupLive();
    restoreSession();
    if (!context_.libraryFolder.isEmpty()) useLibraryFolder(QSettings().value(QStringLiteral("library/folder"), context_.libraryFolder).toString());
    startWorkSession();
    refreshPresetList();
}

MainWindow::~MainWindow() {
    // Only now is the close clean: a crash before this line is reported at the next start.
    session_->closeCleanly();
    delete presets_;
}

QWidget* MainWindow::buildLeftColumn() {
    auto* column = new QWidget;
    auto* layout = new QVBoxLayout(column);
    layout->setContentsMargins(0, 0, 4, 0);
    references_ = new ReferencePanel;
    controls_ = new ControlPanel;
    layout->addWidget(group(tr("Image prompt"), references_));
    layout->addWidget(group(tr("ControlNet"), controls_));
    loras_ = new LoraPanel;
    layout->addWidget(group(tr("LoRA"), loras_));
    layout->addStretch();
    auto* scroll = new QScrollArea;
    scroll->setWidget(column);
    scroll->setWidgetResizable(true);
    scroll->setMinimumWidth(340);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // long names elide; the column never scrolls sideways
    scroll->setFrameShape(QFrame::NoFrame);
    connect(references_, &ReferencePanel::problem, this, [this](const QString& m) { showMessage(m); });
    // Regions are painted at the output size over the init image, else the picture last shown.
    references_->setRegionCanvas([this] {
        RegionCanvas canvas;
        canvas.size = settings_->outputSize();
        canvas.background = init_->hasInitImage() ? init_->canvas()->image() : result_->image();
        return canvas;
    });
    connect(controls_, &ControlPanel::problem, this, [this](const QString& m) { showMessage(m); });
    connect(loras_, &LoraPanel::problem, this, [this](const QString& m) { showMessage(m); });
    connect(loras_, &LoraPanel::removed, this, [this](const QString& name) {
        showMessage(tr("LoRA '%1' removed. <a href=\"undo-lora\">Undo</a>").arg(name.toHtmlEscaped()), false);
    });
    connect(loras_, &LoraPanel::triggerWordClicked, this, [this](const QString& word) {
        insertTriggerWord(prompt_, word);
        prompt_->setFocus();
    });
    return scroll;
}

QWidget* MainWindow::buildCenterColumn() {
    auto* column = new QWidget;
    auto* layout = new QVBoxLayout(column);
    layout->setContentsMargins(4, 0, 4, 0);
    canvasTabs_ = new QTabWidget;
    result_ = new CanvasView;
    result_->setPlaceholder(tr("Drop reference pictures on the left, type a prompt below and press Generate "
                               "(Ctrl+Enter).\nThe picture forms here step by step."));
    init_ = new InitImagePanel;
    canvasTabs_->addTab(result_, tr("Result"));
    canvasTabs_->addTab(init_, tr("Init image && mask"));
    layout->addWidget(canvasTabs_, 1);

    prompt_ = new QPlainTextEdit;
    prompt_->setPlaceholderText(tr("Prompt: what to paint (optional with an image prompt)"));
    prompt_->setMaximumHeight(80);
    prompt_->setTabChangesFocus(true);
    negative_ = new QPlainTextEdit;
    negative_->setPlaceholderText(tr("Negative prompt: what to avoid"));
    negative_->setMaximumHeight(52);
    negative_->setTabChangesFocus(true);
    layout->addWidget(prompt_);
    layout->addWidget(negative_);
    promptTokens_ = new PromptTokenCounter(prompt_);
    promptTokens_->setPrefix(tr("Prompt: "));
    promptTokens_->setAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    negativeTokens_ = new PromptTokenCounter(negative_);
    negativeTokens_->setPrefix(tr("Negative: "));
    auto* tokenCounts = new QHBoxLayout;
    tokenCounts->setContentsMargins(2, 0, 2, 0);
    tokenCounts->addWidget(promptTokens_, 1);
    tokenCounts->addWidget(negativeTokens_, 1);
    layout->addLayout(tokenCounts);
    liveBar_ = new LiveBar;
    layout->addWidget(liveBar_);

    auto* run = new QHBoxLayout;
    generate_ = new QPushButton(tr("Generate"));
    generate_->setToolTip(tr("Ctrl+Enter"));
    generate_->setDefault(true);
    generate_->setMinimumHeight(34);
    generate_->setStyleSheet(QStringLiteral("QPushButton { font-weight: bold; padding: 0 24px; }"));
    cancel_ = new QPushButton(tr("Cancel"));
    cancel_->setToolTip(tr("Esc"));
    cancel_->setEnabled(false);
    progress_ = new QProgressBar;
    progress_->setTextVisible(true);
    progress_->setFormat(tr("idle"));
    progress_->setValue(0);
    run->addWidget(generate_);
    run->addWidget(cancel_);
    run->addWidget(liveBar_->keepButton());
    run->addWidget(liveBar_->refineButton());
    run->addWidget(progress_, 1);
    layout->addLayout(run);

    connect(generate_, &QPushButton::clicked, this, &MainWindow::generate);
    connect(cancel_, &QPushButton::clicked, this, &MainWindow::cancel);
    connect(init_, &InitImagePanel::problem, this, [this](const QString& m) { showMessage(m); });
    connect(init_, &InitImagePanel::useSizeRequested, this, [this](QSize size) {
        settings_->widthBox()->setValue(size.width());
        settings_->heightBox()->setValue(size.height());
        stage_->setText(tr("Output size set to the init image's: %1\u00d7%2").arg(size.width()).arg(size.height()));
    });
    connect(result_, &CanvasView::picturesDropped, this, [this](const QList<LoadedImage>& pictures) {
        // A picture dropped on the result view becomes the init image.
        if (!pictures.isEmpty() && init_->setInitImage(pictures.first())) canvasTabs_->setCurrentWidget(init_);
    });
    return column;
}

QWidget* MainWindow::buildRightColumn() {
    auto* column = new QWidget;
    auto* layout = new QVBoxLayout(column);
    layout->setContentsMargins(4, 0, 0, 0);

    auto* presetBox = new QWidget;
    auto* presetLayout = new QVBoxLayout(presetBox);
    presetLayout->setContentsMargins(0, 0, 0, 0);
    presetBox_ = new QComboBox;
    presetBox_->setToolTip(tr("Picking a preset loads it (Undo in the message puts the settings back)"));
    presetLayout->addWidget(presetBox_);
    auto* presetButtons = new QHBoxLayout;
    auto* save = new QPushButton(tr("Save\u2026"));
    auto* rename = new QPushButton(tr("Rename\u2026"));
    auto* remove = new QPushButton(tr("Delete"));
    for (auto* b : {save, rename, remove}) presetButtons->addWidget(b);
    presetLayout->addLayout(presetButtons);
    layout->addWidget(group(tr("Presets"), presetBox));

    settings_ = new SettingsPanel;
    layout->addWidget(group(tr("Settings"), settings_));
    history_ = new HistoryPanel(context_.cacheFolder);
    layout->addWidget(group(tr("History"), history_), 1);

    connect(presetBox_, &QComboBox::activated, this, [this](int index) {
        const QString name = presetBox_->itemData(index).toString();
        if (name.isEmpty()) return;
        if (!loadPreset(name)) refreshPresetList(loadedPreset_.isEmpty() ? QStringLiteral(" ") : loadedPreset_);
    });
    connect(save, &QPushButton::clicked, this, [this] {
        bool ok = false;
        const QString current = presetBox_->currentData().toString();
        const QString name = QInputDialog::getText(this, tr("Save preset"), tr("Name of the preset\n\n%1").arg(presetContentsText()),
                                                   QLineEdit::Normal, presets_->isBuiltIn(current) ? QString() : current, &ok);
        if (!ok) return;
        bool overwrite = false;
        if (presets_->exists(name) && !presets_->isBuiltIn(name))
            overwrite = QMessageBox::question(this, tr("Replace preset"), tr("Replace the preset '%1'?").arg(name)) == QMessageBox::Yes;
        if (presets_->exists(name) && !overwrite && !presets_->isBuiltIn(name)) return;
        savePreset(name, overwrite);
    });
    connect(rename, &QPushButton::clicked, this, [this] {
        const QString from = presetBox_->currentData().toString();
        bool ok = false;
        const QString to = QInputDialog::getText(this, tr("Rename preset"), tr("New name"), QLineEdit::Normal, from, &ok);
        if (!ok || to == from) return;
        try {
            presets_->rename(from, to);
            refreshPresetList(to);
        } catch (const ips::Error& e) {
            showMessage(QString::fromStdString(e.what()));
        }
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        const QString name = presetBox_->currentData().toString();
        if (name.isEmpty() || QMessageBox::question(this, tr("Delete preset"), tr("Delete the preset '%1'?").arg(name)) != QMessageBox::Yes)
            return;
        try {
            presets_->remove(name);
            refreshPresetList();
        } catch (const ips::Error& e) {
            showMessage(QString::fromStdString(e.what()));
        }
    });
    connect(history_, &HistoryPanel::restoreRequested, this, [this](int i, bool withPictures) {
        const ips::GenerationRequest& request = history_->entry(i).request;
        rememberForUndo(tr("restore result #%1").arg(i + 1));
        if (withPictures) {
            applyRequest(request);
        } else {
            // Settings, prompts and LoRAs exactly; references, maps, init image and mask stay.
            applySettings(request);
            prompt_->setPlainText(QString::fromStdString(request.prompt));
            negative_->setPlainText(QString::fromStdString(request.negative_prompt));
            if (request.loras.empty()) restoreLoras({});
        }
        const QString text = withPictures ? tr("Restored result #%1 with its pictures (seed %2)").arg(i + 1).arg(history_->entry(i).seed)
                                          : tr("Restored the settings of result #%1 (seed %2); your pictures stayed").arg(i + 1).arg(history_->entry(i).seed);
        showMessage(text + QStringLiteral(" <a href=\"undo-action\">Undo</a>"), false);
        stage_->setText(withLoraNote(text));
        loadedPreset_.clear();
        refreshPresetList(QStringLiteral(" "));
    });
    connect(history_, &HistoryPanel::shown, this, &MainWindow::showHistoryEntry);
    connect(history_, &HistoryPanel::problem, this, [this](const QString& m) { showMessage(m); });
    connect(history_, &HistoryPanel::saved, this, [this](const QString& f) { stage_->setText(tr("Saved %1").arg(f)); });
    connect(history_, &HistoryPanel::useAsReference, this, [this](const QString& file, const QImage& image) {
        references_->addLoaded({file.isEmpty() ? LoadedImage{{}, image, {}, false} : loadImageFile(file)});
    });
    connect(history_, &HistoryPanel::useAsInit, this, [this](const QString& file, const QImage& image) {
        if (init_->setInitImage(file.isEmpty() ? LoadedImage{{}, image, {}, false} : loadImageFile(file)))
            canvasTabs_->setCurrentWidget(init_);
    });
    connect(settings_, &SettingsPanel::notice, this, [this](const QString& m) { showMessage(m, false); });
    connect(settings_, &SettingsPanel::outputSizeChanged, this, [this](QSize size) {
        init_->setOutputSize(size);
        for (int i = 0; i < controls_->unitCount(); ++i)
            if (controls_->unit(i)->sketchPad()->layer().isBlank()) controls_->unit(i)->sketchPad()->layer().reset(size);
    });
    return column;
}

void MainWindow::buildMenus() {
    auto add = [this](QMenu* menu, const QString& text, const QKeySequence& keys, auto slot) {
        QAction* a = menu->addAction(text);
        a->setShortcut(keys);
        a->setShortcutContext(Qt::WindowShortcut);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    QMenu* file = menuBar()->addMenu(tr("&File"));
    add(file, tr("Add &reference pictures\u2026"), QKeySequence(tr("Ctrl+Shift+O")), [this] { references_->chooseFiles(); });
    add(file, tr("&Save result\u2026"), QKeySequence::Save, [this] { history_->saveCurrent(); });
    file->addSeparator();
    add(file, tr("&Quit"), QKeySequence::Quit, [this] { close(); });

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    // Text boxes and spin boxes keep their own Ctrl+V, Ctrl+Z and printable keys (Qt gives focused
    // editors these before window shortcuts); elsewhere the keys act on references and the mask.
    add(edit, tr("&Paste reference picture"), QKeySequence::Paste,
        [this] { references_->addFromMime(QApplication::clipboard()->mimeData()); });
    auto onMaskTab = [this](auto action) {
        return [this, action] {
            if (canvasTabs_->currentWidget() == init_) action();
        };
    };
    // One Ctrl+Z: on the mask tab it takes back brush strokes first; then (and elsewhere) the last action that
    // replaced pictures or settings (a restore, a preset, a removed reference, a new init image).
    undoAction_ = add(edit, tr("&Undo"), QKeySequence::Undo, [this] {
        if (canvasTabs_->currentWidget() == init_ && init_->canUndo()) init_->undo();
        else if (!undoLastAction()) stage_->setText(tr("Nothing to undo"));
    });
    add(edit, tr("&Redo brush stroke"), QKeySequence(tr("Ctrl+Shift+Z")), onMaskTab([this] { init_->redo(); }));
    add(edit, tr("Smaller brush"), QKeySequence(Qt::Key_BracketLeft),
        onMaskTab([this] { init_->setBrushDiameter(init_->brushDiameter() * 4 / 5); }));
    add(edit, tr("Larger brush"), QKeySequence(Qt::Key_BracketRight),
        onMaskTab([this] { init_->setBrushDiameter(init_->brushDiameter() * 5 / 4 + 1); }));

    QMenu* run = generateMenu_ = menuBar()->addMenu(tr("&Generate"));
    add(run, tr("&Generate"), QKeySequence(tr("Ctrl+Return")), [this] { generate(); });
    QAction* enter = new QAction(this);  // the keypad's Enter too
    enter->setShortcut(QKeySequence(tr("Ctrl+Enter")));
    connect(enter, &QAction::triggered, this, &MainWindow::generate);
    addAction(enter);
    add(run, tr("&Cancel"), QKeySequence(Qt::Key_Escape), [this] { cancel(); });
    add(run, tr("&Reuse last seed"), QKeySequence(tr("Ctrl+R")), [this] {
        if (settings_->reuseLastSeed()) stage_->setText(tr("Seed fixed to the last result's: %1").arg(*settings_->lastSeed()));
        else showMessage(tr("There is no last seed yet: generate a picture first (its seed is remembered, also after a restart)."), false);
    });
    run->addSeparator();
    add(run, tr("&Unload models"), QKeySequence(), [this] {
        host_->unloadModels();
        stage_->setText(tr("Models unloaded"));
    });

    QMenu* view = menuBar()->addMenu(tr("&View"));
    auto canvas = [this] { return canvasTabs_->currentWidget() == init_ ? init_->canvas() : result_; };
    add(view, tr("Zoom &in"), QKeySequence::ZoomIn, [canvas] { canvas()->zoomBy(1.25); });
    add(view, tr("Zoom &out"), QKeySequence::ZoomOut, [canvas] { canvas()->zoomBy(0.8); });
    add(view, tr("&Fit"), QKeySequence(tr("Ctrl+0")), [canvas] { canvas()->zoomToFit(); });
    add(view, tr("&Result"), QKeySequence(tr("Ctrl+1")), [this] { canvasTabs_->setCurrentWidget(result_); });
    add(view, tr("&Init image and mask"), QKeySequence(tr("Ctrl+2")), [this] { canvasTabs_->setCurrentWidget(init_); });

    QMenu* settingsMenu = menuBar()->addMenu(tr("&Settings"));
    add(settingsMenu, tr("&Models\u2026"), QKeySequence(tr("Ctrl+,")), [this] { openModelsDialog(); });
    add(settingsMenu, tr("Model ma&nager\u2026"), QKeySequence(tr("Ctrl+Shift+M")), [this] { openModelManager(); });
    add(settingsMenu, tr("&Library folder\u2026"), QKeySequence(), [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Library folder (every result is kept here)"),
                                                                 library_ ? library_->folder() : context_.libraryFolder);
        if (!folder.isEmpty() && useLibraryFolder(folder)) stage_->setText(tr("Results now go to %1").arg(folder));
    });

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    add(help, tr("&Keyboard shortcuts"), QKeySequence(tr("F1")), [this] { showShortcuts(); });
    add(help, tr("Open &results folder"), QKeySequence(), [this] { openResultsFolder(); });
    help->addSeparator();
    add(help, tr("&About IP Studio"), QKeySequence(), [this] { showAbout(); });
}

void MainWindow::showAbout() {
    const ips::CpuFeatures& cpu = ips::cpu_features();
    QStringList features;
    for (const auto& f : cpu.names()) features << QString::fromStdString(f);
    const QString rows = QStringList{
        tr("<tr><td><b>Version</b></td><td>%1</td></tr>").arg(QString::fromLatin1(ips::version_string())),
        tr("<tr><td><b>Libraries</b></td><td>Qt %1, %2</td></tr>").arg(QString::fromLatin1(qVersion()), QString::fromStdString(ips::engine_library_versions())),
        tr("<tr><td><b>Processor</b></td><td>%1<br>%2 &middot; %3 threads by default</td></tr>")
            .arg(cpu.model.empty() ? tr("unknown") : QString::fromStdString(cpu.model).toHtmlEscaped(),
                 features.isEmpty() ? tr("no AVX2") : features.join(QStringLiteral(", ")))
            .arg(ips::default_thread_count()),
        tr("<tr><td><b>Default precision</b></td><td>%1</td></tr>")
            .arg(ips::cpu_has_fast_bfloat16() ? tr("fast (bfloat16): this CPU runs it natively") : tr("exact reference (float32): this CPU has no native bfloat16")),
        tr("<tr><td><b>Presets</b></td><td>%1</td></tr>").arg(presets_->userFolder().toHtmlEscaped()),
        tr("<tr><td><b>Downloaded models</b></td><td>%1</td></tr>").arg(QDir(context_.dataFolder).filePath(QStringLiteral("models")).toHtmlEscaped()),
        tr("<tr><td><b>Results</b></td><td>%1</td></tr>").arg((library_ ? library_->folder() : context_.cacheFolder).toHtmlEscaped()),
        tr("<tr><td><b>Work in progress</b></td><td>%1</td></tr>").arg(session_->folder().toHtmlEscaped()),
        tr("<tr><td><b>Settings</b></td><td>%1</td></tr>").arg(QSettings().fileName().toHtmlEscaped()),
    }.join(QString());
    QMessageBox::about(this, tr("About IP Studio"),
                       tr("<h3>IP Studio</h3><p>Stable Diffusion 1.5 with IP-Adapter image prompts, native C++ on LibTorch.</p>"
                          "<table cellspacing=4>%1</table>").arg(rows));
}

void MainWindow::showShortcuts() {
    QString rows;
    for (QAction* menu : menuBar()->actions()) {
        if (!menu->menu()) continue;
        for (QAction* a : menu->menu()->actions())
            if (!a->shortcut().isEmpty())
                rows += QStringLiteral("<tr><td>%1</td><td>%2</td></tr>")
                            .arg(a->text().remove(QLatin1Char('&')).toHtmlEscaped(), a->shortcut().toString(QKeySequence::NativeText).toHtmlEscaped());
    }
    rows += tr("<tr><td>Paint the mask / erase</td><td>drag / Shift+drag on the init image</td></tr>"
               "<tr><td>Zoom the canvas</td><td>mouse wheel</td></tr>");
    QMessageBox box(this);
    box.setWindowTitle(tr("Keyboard shortcuts"));
    box.setTextFormat(Qt::RichText);
    box.setText(QStringLiteral("<table cellspacing=6>%1</table>").arg(rows));
    box.exec();
}

void MainWindow::openResultsFolder() {
    const QString folder = library_ ? library_->folder() : context_.cacheFolder;
    QDir().mkpath(folder);
    if (!QDesktopServices::openUrl(QUrl::fromLocalFile(folder))) showMessage(tr("No file manager could open %1").arg(folder));
}

bool MainWindow::useLibraryFolder(const QString& folder) {
    auto library = std::make_unique<ResultLibrary>(folder);
    QString error, notice;
    const bool opened = library->open(&error, &notice);
    if (!opened) {
        showMessage(tr("The library at %1 cannot be used: %2. New results are kept for this session only; choose another folder in "
                       "Settings \u25b8 Library folder.").arg(folder, error));
    } else {
        QSettings().setValue(QStringLiteral("library/folder"), folder);
        if (!notice.isEmpty()) showMessage(notice, false);
    }
    history_->setLibrary(nullptr);
    library_ = std::move(library);
    history_->setLibrary(library_.get());
    return opened;
}

void MainWindow::connectWorker() {
    WorkerHost* h = host_;
    connect(h, &WorkerHost::stageChanged, this, [this](const QString& stage) {
        const bool loading = stage == QStringLiteral("loading models");
        stage_->setText(loading ? tr("Loading models (the first run, or after a model or precision change, reads them from disk)")
                                : stage.left(1).toUpper() + stage.mid(1) + QStringLiteral("\u2026"));
        stageStartedMs_ = double(QDateTime::currentMSecsSinceEpoch());
        bytesLoaded_ = 0;
        // Loading is its own stage with its own clock; it never counts as step time.
        if (loading) loadingTicker_->start();
        else loadingTicker_->stop();
        if (stage != QStringLiteral("denoising")) {
            progress_->setRange(0, 0);  // busy indicator while loading / encoding / decoding
            progress_->setFormat(stage);
        }
    });
    connect(h, &WorkerHost::progress, this, [this](int step, int total, double elapsed) {
        progress_->setRange(0, total);
        progress_->setValue(step);
        if (step == 0 || denoiseStartSeconds_ < 0) denoiseStartSeconds_ = elapsed;
        progress_->setFormat(step > 0 ? tr("step %1 / %2 \u00b7 %3").arg(step).arg(total).arg(stepTimeText(elapsed - denoiseStartSeconds_, step, total))
                                      : tr("step 0 / %1").arg(total));
    });
    connect(h, &WorkerHost::loadingProgress, this, [this](quint64 bytes) {
        bytesLoaded_ = bytes;
        stage_->setText(loadingText(bytesLoaded_, (QDateTime::currentMSecsSinceEpoch() - stageStartedMs_) / 1000.0));
    });
    connect(h, &WorkerHost::preview, this, [this](const QImage& image) {
        if (live_->ownsActiveJob()) {  // Live shows finished frames only: the newest whole picture stays up
            host_->worker()->previewShown();
            return;
        }
        // Latent-space previews are 1/8 of the output, TAESD ones full size: both shown at the output size, so
        // the view does not jump between them or at the end.
        result_->setImage(image.scaled(activeOutputSize_, Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
        host_->worker()->previewShown();
    });
    connect(h, &WorkerHost::finished, this, &MainWindow::onFinished);
    connect(h, &WorkerHost::failed, this, [this](const QString& message) {
        loadingTicker_->stop();
        showMessage(message);
        stage_->setText(tr("Generation failed"));
    });
    connect(h, &WorkerHost::cancelled, this, [this] {
        loadingTicker_->stop();
        if (live_->ownsActiveJob()) return;  // a live frame gave way to a newer one or to Live going off
        stage_->setText(tr("Cancelled"));
        // Put back what was shown before the run instead of a half-formed preview.
        if (history_->currentIndex() >= 0) showHistoryEntry(history_->currentIndex());
        else result_->setImage({});
    });
    connect(h, &WorkerHost::idle, this, [this] {
        setBusy(false);
        Q_EMIT generationEnded();
        if (closeWhenDone_) QMetaObject::invokeMethod(this, &QWidget::close, Qt::QueuedConnection);
    });
}

void MainWindow::onFinished(const GenerationOutcome& outcome) {
    if (live_->ownsJob(outcome.job)) return;  // the LiveController shows it; Keep adds it to the history
    history_->add(outcome);
    settings_->setLastSeed(outcome.seed);
    canvasTabs_->setCurrentWidget(result_);
    stage_->setText(tr("Done in %1 \u00b7 seed %2").arg(durationText(outcome.seconds)).arg(outcome.seed));
    if (!outcome.warnings.isEmpty()) showMessage(outcome.warnings.join(QStringLiteral("\n")));
}

void MainWindow::showHistoryEntry(int index) {
    result_->setImage(history_->image(index));
    canvasTabs_->setCurrentWidget(result_);
}

void MainWindow::setBusy(bool busy) {
    if (!busy) loadingTicker_->stop();
    generate_->setEnabled(!busy);
    cancel_->setEnabled(busy);
    if (!busy) {
        progress_->setRange(0, 100);
        progress_->setValue(0);
        progress_->setFormat(tr("idle"));
    }
}

bool MainWindow::isGenerating() const { return host_->busy(); }

ips::GenerationRequest MainWindow::settingsRequest() const {
    ips::GenerationRequest r;
    r.prompt = prompt_->toPlainText().toStdString();
    r.negative_prompt = negative_->toPlainText().toStdString();
    settings_->writeTo(r);
    ips::IpAdapterSettings knobs = references_->knobs();
    r.ip_adapters = {knobs};
    r.controlnets = controls_->knobs();
    r.loras = loras_->activeLoras();
    r.embeddings = embeddingsUsedIn(embeddings_, {prompt_->toPlainText(), negative_->toPlainText()});
    r.strength = init_->strength();
    return r;
}

std::optional<ips::GenerationRequest> MainWindow::buildRequest(QString* error) const {
    ips::GenerationRequest r;
    r.model = toFsPath(models_.baseModel);
    if (!models_.vae.isEmpty()) r.vae = toFsPath(models_.vae);
    if (!models_.previewDecoder.isEmpty()) r.preview_decoder = toFsPath(models_.previewDecoder);
    if (models_.baseModel.isEmpty()) {
        *error = tr("No base model chosen. Open Settings \u25b8 Models (Ctrl+,) and choose a Stable Diffusion 1.5 folder or "
                    ".safetensors file.");
        return std::nullopt;
    }
    r.prompt = prompt_->toPlainText().toStdString();
    r.negative_prompt = negative_->toPlainText().toStdString();
    // Embeddings are used by name, as in A1111: every one found is available, the prompts pick.
    r.embeddings = embeddingsUsedIn(embeddings_, {prompt_->toPlainText(), negative_->toPlainText()});
    if (const QString problem = settings_->problem(); !problem.isEmpty()) {
        *error = problem;
        return std::nullopt;
    }
    settings_->writeTo(r);
    if (auto ip = references_->settings(models_.imageEncoder)) {
        if (ip->path.empty()) {
            *error = tr("There are reference pictures but no IP-Adapter installed. Add one in Settings \u25b8 Models (Ctrl+,), "
                        "or remove the references to generate from the prompt alone.");
            return std::nullopt;
        }
        r.ip_adapters.push_back(std::move(*ip));
    }
    QString controlError;
    r.controlnets = controls_->settings(&controlError);
    if (!controlError.isEmpty()) {
        *error = controlError;
        return std::nullopt;
    }
    r.loras = loras_->activeLoras();  // rows switched off or missing stay in the panel only
    init_->writeTo(r);
    try {
        ips::validate_request(r);
    } catch (const ips::Error& e) {
        *error = QString::fromStdString(e.what());
        return std::nullopt;
    }
    return r;
}

void MainWindow::applySettings(const ips::GenerationRequest& r, const QList<LoraEntry>& offLoras) {
    // A preset without a prompt (the built-ins) keeps the artist's words.
    if (!r.prompt.empty() || !r.negative_prompt.empty()) {
        prompt_->setPlainText(QString::fromStdString(r.prompt));
        negative_->setPlainText(QString::fromStdString(r.negative_prompt));
    }
    if (r.strength) init_->setStrength(*r.strength);
    settings_->readFrom(r);
    if (!r.ip_adapters.empty()) references_->applyKnobs(r.ip_adapters.front());
    if (!r.controlnets.empty()) controls_->applyKnobs(r.controlnets);
    // Like the prompt: a preset without LoRAs keeps the ones in use.
    loraNote_.clear();
    if (!r.loras.empty() || !offLoras.isEmpty()) restoreLoras(lorasFromRequest(r.loras) + offLoras);
}

void MainWindow::restoreLoras(const QList<LoraEntry>& entries) {
    const QStringList missing = loras_->setEntries(entries);
    loraNote_.clear();
    if (missing.isEmpty()) return;
    loraNote_ = tr("LoRA file missing: %1 (listed, not used)").arg(missing.join(QStringLiteral(", ")));
    // The built-in speed presets name the catalog's LoRAs: say where to get them.
    QStringList downloadable;
    const ModelCatalog catalog = ModelCatalog::builtIn();
    for (const QString& path : loras_->missingFiles())
        if (const CatalogModel* m = catalog.findByFileName(QFileInfo(path).fileName())) downloadable << m->name;
    if (!downloadable.isEmpty())
        loraNote_ += tr("; download %1 in Settings \u25b8 Model manager").arg(downloadable.join(QStringLiteral(", ")));
    stage_->setText(loraNote_);
}

QString MainWindow::withLoraNote(const QString& status) const {
    return loraNote_.isEmpty() ? status : status + QStringLiteral(" \u00b7 ") + loraNote_;
}

void MainWindow::applyRequest(const ips::GenerationRequest& r) {
    applySettings(r);
    // Unlike a preset, a result's request is restored exactly, empty prompts included.
    prompt_->setPlainText(QString::fromStdString(r.prompt));
    negative_->setPlainText(QString::fromStdString(r.negative_prompt));
    if (r.ip_adapters.empty()) references_->clearReferences();
    else references_->applySettings(r.ip_adapters.front());
    if (r.ip_adapters.size() > 1)
        showMessage(tr("This request has %1 IP-Adapters; the window shows the first.").arg(r.ip_adapters.size()), false);
    controls_->apply(r.controlnets);
    init_->readFrom(r);
    if (r.loras.empty()) restoreLoras({});  // exactly the result's LoRAs, none included
}

bool MainWindow::windowJobRunning() const { return host_->busy() && !live_->ownsActiveJob(); }

void MainWindow::generate() {
    if (windowJobRunning()) return;
    QString error;
    const auto request = buildRequest(&error);
    if (!request) {
        showBanner(error, Banner::RequestProblem);
        return;
    }
    run(*request);
}

bool MainWindow::run(const ips::GenerationRequest& request) {
    // A live frame gives way (it is cancelled at its next step); anything else runs to its end.
    if (windowJobRunning()) return false;
    const bool replacesLiveFrame = host_->busy();
    if (bannerKind_ != Banner::ModelAdvice) messageBar_->hide();
    denoiseStartSeconds_ = -1;
    saveSession();  // a crash or a killed process then loses nothing the user typed
    autosaveNow();
    setBusy(true);
    progress_->setRange(0, 0);
    progress_->setFormat(tr("starting"));
    stage_->setText(tr("Starting\u2026"));
    canvasTabs_->setCurrentWidget(result_);
    activeOutputSize_ = QSize(request.width, request.height);
    if (replacesLiveFrame) host_->cancel();
    host_->submit(request, settings_->threads());  // Live waits for it: its edits start a frame once the host is idle
    return true;
}

void MainWindow::cancel() {
    if (!host_->busy()) return;
    host_->cancel();
    stage_->setText(tr("Cancelling at the end of this step\u2026"));
}

void MainWindow::showMessage(const QString& text, bool error) { showBanner(text, error ? Banner::Error : Banner::Info); }

void MainWindow::showBanner(const QString& text, Banner kind) {
    bannerKind_ = kind;
    const bool error = kind == Banner::Error || kind == Banner::RequestProblem;
    message_->setText(text);
    messageBar_->setStyleSheet(error ? QStringLiteral("#messageBar { background: #fdecea; border: 1px solid #e0a39c; border-radius: 4px; } "
                                                      "QLabel { color: #611a15; }")
                                     : QStringLiteral("#messageBar { background: #e8f1fb; border: 1px solid #9dbbe0; border-radius: 4px; } "
                                                      "QLabel { color: #0d3c61; }"));
    messageBar_->show();
    placeBanner();
}

QString MainWindow::messageText() const { return messageBar_->isHidden() ? QString() : message_->text(); }
QString MainWindow::statusText() const { return stage_->text(); }

QString MainWindow::loadingText(quint64 bytesLoaded, double seconds) {
    const QString read = bytesLoaded > 0 ? tr(" \u00b7 %1 read").arg(QLocale().formattedDataSize(qint64(bytesLoaded))) : QString();
    return tr("Loading models%1 \u00b7 %2 (the first run, or after a model or precision change, reads them from disk)")
        .arg(read, durationText(seconds));
}

void MainWindow::placeBanner() {
    if (messageBar_->isHidden()) return;
    const QPoint origin = canvasTabs_->mapTo(centralWidget(), QPoint(0, canvasTabs_->tabBar()->height()));
    const int width = std::max(200, canvasTabs_->width() - 16);
    const int height = messageBar_->layout()->hasHeightForWidth() ? messageBar_->layout()->heightForWidth(width)
                                                                  : messageBar_->sizeHint().height();
    messageBar_->setGeometry(origin.x() + 8, origin.y() + 6, width, height);
    messageBar_->raise();
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
    if (watched == canvasTabs_ && (event->type() == QEvent::Resize || event->type() == QEvent::Move)) placeBanner();
    return QMainWindow::eventFilter(watched, event);
}

void MainWindow::recheckBanner() {
    if (messageBar_->isHidden()) return;
    if (bannerKind_ == Banner::RequestProblem) {
        QString error;
        if (buildRequest(&error)) messageBar_->hide();
        else if (error != message_->text()) showBanner(error, Banner::RequestProblem);
    } else if (bannerKind_ == Banner::ModelAdvice) {
        const QString advice = models_.missingAdvice();
        if (advice.isEmpty()) messageBar_->hide();
        else showBanner(advice, Banner::ModelAdvice);
    }
}

// The box shows the preset that was loaded last, or "no preset" (a name is never shown as if active).
void MainWindow::refreshPresetList(const QString& select) {
    const QString current = select.isEmpty() ? loadedPreset_ : select.trimmed();
    const QSignalBlocker block(presetBox_);
    presetBox_->clear();
    presetBox_->addItem(tr("\u2014 no preset loaded \u2014"), QString());
    for (const PresetInfo& p : presets_->list())
        presetBox_->addItem(p.builtIn ? p.name + tr(" (built-in)") : p.name, p.name);
    const int i = current.isEmpty() ? 0 : presetBox_->findData(current);
    presetBox_->setCurrentIndex(std::max(0, i));
}

QString MainWindow::presetContentsText() {
    return tr("Kept: prompt and negative prompt (when not empty), size, steps, guidance, sampler, seed (when fixed), batch count, "
              "precision; the IP-Adapter, its scale, mode, active steps and crop mode; each ControlNet unit's model, scale and active "
              "steps; the init image strength; the LoRAs (file, weight, on or off).\nNot kept: pictures (references, ControlNet maps and sketches, init image, mask) "
              "and the Canny thresholds.");
}

bool MainWindow::savePreset(const QString& name, bool overwrite) {
    try {
        presets_->save(name, settingsRequest(), overwrite, loras_->idleLoras());
    } catch (const ips::Error& e) {
        showMessage(QString::fromStdString(e.what()));
        return false;
    }
    loadedPreset_ = name;
    refreshPresetList(name);
    stage_->setText(tr("Preset '%1' saved").arg(name));
    return true;
}

bool MainWindow::loadPreset(const QString& name) {
    try {
        const ips::GenerationRequest preset = presets_->load(name);
        if (const QString problem = settings_->problemWith(preset); !problem.isEmpty()) {
            showMessage(tr("Preset '%1' (%2) was not loaded: %3").arg(name, QDir(presets_->userFolder()).filePath(name + QStringLiteral(".json")), problem));
            return false;
        }
        rememberForUndo(tr("load preset '%1'").arg(name));
        beforePreset_ = settingsRequest();
        beforePresetLoras_ = loras_->entries();
        QList<LoraEntry> off = lorasFromRequest(presets_->disabledLoras(name));
        for (LoraEntry& e : off) e.enabled = false;
        applySettings(preset, off);
    } catch (const ips::Error& e) {
        showMessage(QString::fromStdString(e.what()));
        return false;
    }
    loadedPreset_ = name;
    refreshPresetList(name);
    stage_->setText(withLoraNote(tr("Preset '%1' loaded").arg(name)));
    showMessage(tr("Preset '%1' loaded. <a href=\"undo-preset\">Undo</a>").arg(name.toHtmlEscaped()), false);
    return true;
}

void MainWindow::undoPresetLoad() {
    if (!beforePreset_) return;
    ips::GenerationRequest before = *beforePreset_;
    beforePreset_.reset();
    before.loras.clear();  // put back below with their on/off
    applySettings(before);
    restoreLoras(beforePresetLoras_);
    // applySettings keeps the words when a preset has none; the snapshot's are put back exactly.
    prompt_->setPlainText(QString::fromStdString(before.prompt));
    negative_->setPlainText(QString::fromStdString(before.negative_prompt));
    loadedPreset_.clear();
    refreshPresetList(QStringLiteral(" "));
    messageBar_->hide();
    stage_->setText(tr("Preset load undone"));
}

void MainWindow::setModelConfig(const ModelConfig& config) {
    models_ = config;
    references_->setAdapterFiles(config.ipAdapters);
    controls_->setModelFiles(config.controlNets);
    // LoRAs are looked for beside these models (their ComfyUI / AUTOMATIC1111 / InvokeAI installation).
    loras_->setSearchPaths(QStringList{config.baseModel, config.imageEncoder, config.vae} + config.ipAdapters + config.controlNets,
                           {QDir(context_.dataFolder).filePath(QStringLiteral("models/loras"))});
    embeddings_ = findEmbeddings(embeddingFolders(QStringList{config.baseModel, config.imageEncoder, config.vae} + config.ipAdapters,
                                                  {QDir(context_.dataFolder).filePath(QStringLiteral("models/embeddings"))}));
    // The model's own tokenizer counts the prompt's tokens; a single-file checkpoint uses the bundled one.
    const QString tokenizer = QFileInfo(config.baseModel).isDir()
                                  ? QDir(config.baseModel).filePath(QStringLiteral("tokenizer"))
                                  : fromFsPath(context_.pipeline.config_root / "tokenizer");
    for (auto* counter : {promptTokens_, negativeTokens_}) counter->setTokenizerFolder(config.baseModel.isEmpty() ? QString() : tokenizer);
    const QString advice = config.missingAdvice();
    if (!advice.isEmpty()) showBanner(advice, Banner::ModelAdvice);
    else if (bannerKind_ == Banner::ModelAdvice) messageBar_->hide();
    recheckBanner();
}

void MainWindow::openModelsDialog() {
    ModelsDialog dialog(models_, this);
    if (dialog.exec() != QDialog::Accepted) return;
    setModelConfig(dialog.config());
    QSettings settings;
    models_.save(settings);
}

QDialog* MainWindow::openModelManager() {
    if (!modelManager_) {
        // Kept when closed: its downloads go on in the background.
        auto* dialog = new ModelManagerDialog(QDir(context_.dataFolder).filePath(QStringLiteral("models")), this);
        connect(dialog, &ModelManagerDialog::modelChosen, this, &MainWindow::useChosenModel);
        connect(dialog, &ModelManagerDialog::loraChosen, this, &MainWindow::useChosenLora);
        connect(dialog, &ModelManagerDialog::modelInstalled, this, [this](const QString& role) {
            if (role != QLatin1String("lora")) return;
            loras_->rescan();
            if (!loras_->missingFiles().isEmpty()) restoreLoras(loras_->entries());  // a preset's LoRA may be here now
        });
        modelManager_ = dialog;
    }
    modelManager_->show();
    modelManager_->raise();
    return modelManager_;
}

void MainWindow::useChosenModel(ModelRole role, const QString& path) {
    const ModelCheck check = checkModel(path, role);
    if (!check.ok) return showMessage(check.error);
    ModelConfig config = models_;
    config.set(role, path);
    setModelConfig(config);
    QSettings settings;
    models_.save(settings);
    stage_->setText(tr("Using %1 (%2)").arg(QFileInfo(path).fileName(), check.description));
}

void MainWindow::useChosenLora(const QString& path) {
    loras_->rescan();
    if (!loras_->addLora(path)) return;  // the panel said why
    stage_->setText(tr("LoRA %1 added").arg(QFileInfo(path).completeBaseName()));
}

void MainWindow::restoreSession() {
    QSettings s;
    restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
    fitWindowToScreen(this);  // also a geometry saved on a larger monitor
    splitter_->restoreState(s.value(QStringLiteral("window/splitter")).toByteArray());
    ModelConfig config;
    config.load(s);
    setModelConfig(config);
    // First run without a base model: offer the model manager instead of only an error (once).
    if (config.baseModel.isEmpty() && !s.value(QStringLiteral("firstRun/modelManagerOffered")).toBool()) {
        s.setValue(QStringLiteral("firstRun/modelManagerOffered"), true);
        QMetaObject::invokeMethod(this, [this] { openModelManager(); }, Qt::QueuedConnection);
    }
    settings_->setThreads(s.value(QStringLiteral("session/threads"), 0).toInt());
    const QString saved = s.value(QStringLiteral("session/request")).toString();
    if (saved.isEmpty()) return;
    try {
        ips::GenerationRequest session = ips::parse_request_json(saved.toStdString(), {}, "the saved session");
        const QVariant loras = s.value(QStringLiteral("session/loras"));  // with on/off, which the request lacks
        if (loras.isValid()) session.loras.clear();
        if (!settings_->problemWith(session).isEmpty()) return;
        applySettings(session);
        if (loras.isValid()) restoreLoras(lorasFromJson(loras.toString()));
    } catch (const ips::Error& e) {
        // An old or damaged session only costs the last settings.
        showMessage(tr("The last session's settings could not be restored: %1").arg(QString::fromStdString(e.what())), false);
    }
}

void MainWindow::saveSession() {
    QSettings s;
    s.setValue(QStringLiteral("window/geometry"), saveGeometry());
    s.setValue(QStringLiteral("window/splitter"), splitter_->saveState());
    s.setValue(QStringLiteral("session/threads"), settings_->threads());
    s.setValue(QStringLiteral("session/loras"), lorasToJson(loras_->entries()));
    try {
        s.setValue(QStringLiteral("session/request"), QString::fromStdString(ips::request_to_json(settingsRequest(), {})));
    } catch (const ips::Error&) {
    }
}

void MainWindow::closeWithoutAsking() {
    closingWithoutAsking_ = true;
    close();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSession();
    autosaveNow();
    // A live frame is not worth a question; nor is anything when the system asks the program to end.
    const bool ask = windowJobRunning() && !closeWhenDone_ && !closingWithoutAsking_ && isVisible();
    if (ask) {
        // A picture half made is not in the library yet: the artist decides whether it matters.
        QMessageBox ask(QMessageBox::Question, tr("A picture is being generated"),
                        tr("Closing now stops it, and a picture not finished is not kept. Your work in progress is saved either way."),
                        QMessageBox::NoButton, this);
        QPushButton* finish = ask.addButton(tr("Finish it, then close"), QMessageBox::AcceptRole);
        QPushButton* stop = ask.addButton(tr("Stop and close"), QMessageBox::DestructiveRole);
        ask.addButton(QMessageBox::Cancel);
        ask.setDefaultButton(finish);
        ask.exec();
        if (ask.clickedButton() == finish) {
            closeWhenDone_ = true;
            stage_->setText(tr("IP Studio closes when this picture is done"));
        }
        if (ask.clickedButton() != stop) {
            event->ignore();
            return;
        }
    }
    if (host_->busy()) {
        // The worker stops at its next step (or after a model load); the host waits for it when it is
        // destroyed. Hidden meanwhile, the window does not look frozen.
        host_->cancel();
        hide();
    }
    event->accept();
}

}  // namespace ipsui
