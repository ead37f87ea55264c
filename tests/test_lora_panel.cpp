// The LoRA panel driven as a user drives it: the LoRAs found in a folder, search, weight slider and box,
// on/off, another base's LoRA refused, trigger words into the prompt, and the list kept by presets,
// history and sessions (a file gone since is marked and never sent).
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTreeWidget>
#include <QSlider>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QToolButton>
#include <QtEndian>
#include <QtTest>

#include "control_panel.h"
#include "generation_worker.h"
#include "reference_panel.h"
#include "history_panel.h"
#include "ips/request_json.h"
#include "lora_library.h"
#include "lora_panel.h"
#include "lora_row.h"
#include "main_window.h"
#include "model_catalog.h"
#include "model_manager_dialog.h"
#include "preset_store.h"
#include "qt_convert.h"
#include "settings_panel.h"
#include "ui_test_env.h"

using ipstest::dataFile;

namespace {

// A safetensors file from its header (tensors with data_offsets, optional __metadata__) and data.
void writeSafetensors(const QString& path, const QJsonObject& header, const QByteArray& data) {
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while (json.size() % 8) json.append(' ');
    QByteArray length(8, '\0');
    qToLittleEndian<quint64>(quint64(json.size()), length.data());
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(length + json + data);
}

// A copy of a LoRA with kohya's ss_tag_frequency metadata (the trigger words): "mychar" most used.
void writeWithTriggerWords(const QString& from, const QString& to) {
    QFile in(from);
    QVERIFY(in.open(QIODevice::ReadOnly));
    const QByteArray bytes = in.readAll();
    const quint64 n = qFromLittleEndian<quint64>(bytes.constData());
    QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, int(n))).object();
    header.insert(QStringLiteral("__metadata__"),
                  QJsonObject{{QStringLiteral("format"), QStringLiteral("pt")},
                              {QStringLiteral("ss_tag_frequency"), QStringLiteral(R"({"10_mychar": {"mychar": 12, " red hat": 5}})")}});
    writeSafetensors(to, header, bytes.mid(8 + int(n)));
}

// A LoRA for SDXL: a second text encoder's modules (lora_te2_) say so.
void writeSdxlLora(const QString& path) {
    const QString te2 = QStringLiteral("lora_te2_text_model_encoder_layers_0_self_attn_q_proj");
    QJsonObject header{
        {te2 + QStringLiteral(".lora_down.weight"),
         QJsonObject{{QStringLiteral("dtype"), QStringLiteral("F32")}, {QStringLiteral("shape"), QJsonArray{1, 8}}, {QStringLiteral("data_offsets"), QJsonArray{0, 32}}}},
        {te2 + QStringLiteral(".lora_up.weight"),
         QJsonObject{{QStringLiteral("dtype"), QStringLiteral("F32")}, {QStringLiteral("shape"), QJsonArray{8, 1}}, {QStringLiteral("data_offsets"), QJsonArray{32, 64}}}},
    };
    writeSafetensors(path, header, QByteArray(64, '\0'));
}

QStringList libraryNames(const ipsui::LoraPanel& panel) {
    QStringList names;
    for (int i = 0; i < panel.libraryModel()->rowCount(); ++i) names << panel.libraryModel()->index(i, 0).data().toString();
    return names;
}

}  // namespace

class TestLoraPanel : public QObject {
    Q_OBJECT
    QTemporaryDir dir;
    QString loraDir;
    std::unique_ptr<ipsui::MainWindow> window;

    QString lora(const QString& name) const { return QDir(loraDir).filePath(name + QStringLiteral(".safetensors")); }

    static bool waitForScan(ipsui::LoraPanel& panel) {
        if (!panel.scanning()) return true;
        QSignalSpy done(&panel, &ipsui::LoraPanel::scanFinished);
        return done.wait(30000);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir.isValid());
        ipstest::isolateSettings(dir);
        loraDir = dir.filePath(QStringLiteral("loras"));
        QVERIFY(QDir().mkpath(loraDir));
        for (const QFileInfo& f : QDir(dataFile("lora")).entryInfoList({QStringLiteral("*.safetensors")}, QDir::Files))
            QVERIFY(QFile::copy(f.filePath(), QDir(loraDir).filePath(f.fileName())));
        writeWithTriggerWords(lora(QStringLiteral("kohya_ldm")), lora(QStringLiteral("my_character")));
        writeSdxlLora(lora(QStringLiteral("xl_style")));
        window = std::make_unique<ipsui::MainWindow>(ipstest::testContext(dir));
        window->setModelConfig(ipstest::tinyModels());
        window->show();
    }

    void init() { window->loras()->clearLoras(); }

    void listsTheLorasOfAFolder() {
        ipsui::LoraPanel panel;
        panel.resize(360, 400);
        panel.show();
        panel.setSearchPaths({}, {loraDir});
        QVERIFY(waitForScan(panel));
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QCOMPARE(libraryNames(panel), (QStringList{"diffusers_old", "kohya_alpha", "kohya_ldm", "kohya_noalpha", "my_character", "peft", "xl_style"}));
        // Another base's LoRA is listed greyed, with the reason, and cannot be activated.
        const QModelIndex xl = panel.libraryModel()->index(6, 0);
        QVERIFY(!(xl.flags() & Qt::ItemIsEnabled));
        QVERIFY2(xl.data(Qt::ToolTipRole).toString().contains(QStringLiteral("made for sdxl")), qPrintable(xl.data(Qt::ToolTipRole).toString()));
        Q_EMIT panel.libraryView()->activated(xl);
        QCOMPARE(panel.rowCount(), 0);
        // A usable one becomes a row on a double-click, on, at weight 1.
        const QModelIndex peft = panel.libraryModel()->index(5, 0);
        QVERIFY(peft.flags() & Qt::ItemIsEnabled);
        QCoreApplication::processEvents();  // the list, shown once LoRAs were found, gets its size
        QVERIFY(panel.libraryView()->isVisible());
        panel.libraryView()->scrollTo(peft);  // four names show at a time
        const QPoint at = panel.libraryView()->visualRect(peft).center();
        QTest::mouseClick(panel.libraryView()->viewport(), Qt::LeftButton, {}, at);  // QTest's double-click lacks the first press
        QCOMPARE(panel.rowCount(), 0);  // a single click only selects
        QTest::mouseDClick(panel.libraryView()->viewport(), Qt::LeftButton, {}, at);
        QCOMPARE(panel.entries(), (QList<ipsui::LoraEntry>{{lora(QStringLiteral("peft")), 1.0, true}}));
    }

    void findsTheLoraFolderOfAnInstallation() {
        // A ComfyUI tree: the base model in models/checkpoints, LoRAs in models/loras.
        const QString root = dir.filePath(QStringLiteral("ComfyUI"));
        QVERIFY(QDir().mkpath(root + QStringLiteral("/models/checkpoints")) && QDir().mkpath(root + QStringLiteral("/models/loras")));
        QVERIFY(QFile::copy(lora(QStringLiteral("peft")), root + QStringLiteral("/models/loras/comfy_lora.safetensors")));
        const QString checkpoint = root + QStringLiteral("/models/checkpoints/model.safetensors");
        QCOMPARE(ipsui::loraFolders({checkpoint}, {}), QStringList{root + QStringLiteral("/models/loras")});
        ipsui::LoraPanel panel;
        panel.setSearchPaths({checkpoint});
        QVERIFY(waitForScan(panel));
        QCOMPARE(libraryNames(panel), QStringList{QStringLiteral("comfy_lora")});
    }

    void searchFiltersByName() {
        ipsui::LoraPanel panel;
        panel.setSearchPaths({}, {loraDir});
        QVERIFY(waitForScan(panel));
        QTest::keyClicks(panel.searchBox(), QStringLiteral("KOHYA"));
        QCOMPARE(libraryNames(panel), (QStringList{"kohya_alpha", "kohya_ldm", "kohya_noalpha"}));
        QTest::keyClicks(panel.searchBox(), QStringLiteral("_l"));
        QCOMPARE(libraryNames(panel), QStringList{QStringLiteral("kohya_ldm")});
        panel.searchBox()->setText(QStringLiteral("nothing like it"));
        QCOMPARE(libraryNames(panel), QStringList());
        panel.searchBox()->clear();
        QCOMPARE(panel.libraryModel()->rowCount(), 7);
    }

    void weightSliderAndBoxStayInStep() {
        ipsui::LoraPanel panel;
        QVERIFY(panel.addLora(lora(QStringLiteral("kohya_alpha"))));
        ipsui::LoraRow* row = panel.row(0);
        QCOMPARE(row->weightBox()->minimum(), -2.0);
        QCOMPARE(row->weightBox()->maximum(), 2.0);
        QCOMPARE(row->weightBox()->singleStep(), 0.05);
        QCOMPARE(row->weightBox()->value(), 1.0);
        row->weightSlider()->setValue(-10);
        QCOMPARE(row->weightBox()->value(), -0.5);
        row->weightBox()->setValue(1.35);
        QCOMPARE(row->weightSlider()->value(), 27);
        QTest::keyClick(row->weightSlider(), Qt::Key_End);
        QCOMPARE(row->weightBox()->value(), 2.0);
        QCOMPARE(panel.activeLoras().front().weight, 2.0);
        // A preset's weight beyond the slider (the engine allows up to 10) is kept, not clamped.
        panel.setEntries({{lora(QStringLiteral("kohya_alpha")), 3.5, true}});
        QCOMPARE(panel.row(0)->weight(), 3.5);
        QCOMPARE(panel.row(0)->weightSlider()->value(), panel.row(0)->weightSlider()->maximum());
    }

    void rowsSwitchedOffAreNotSent() {
        ipsui::LoraPanel* panel = window->loras();
        panel->setEntries({{lora(QStringLiteral("kohya_alpha")), 0.7, true}, {lora(QStringLiteral("peft")), -1.0, false}});
        QString error;
        auto request = window->buildRequest(&error);
        QVERIFY2(request, qPrintable(error));
        QCOMPARE(request->loras.size(), std::size_t(1));
        QCOMPARE(ipsui::fromFsPath(request->loras.front().path), lora(QStringLiteral("kohya_alpha")));
        QCOMPARE(request->loras.front().weight, 0.7);
        QCoreApplication::processEvents();  // the new rows get their size
        QTest::mouseClick(panel->row(0)->enabledBox(), Qt::LeftButton);
        QTest::mouseClick(panel->row(1)->enabledBox(), Qt::LeftButton);
        request = window->buildRequest(&error);
        QVERIFY2(request, qPrintable(error));
        QCOMPARE(request->loras.size(), std::size_t(1));
        QCOMPARE(ipsui::fromFsPath(request->loras.front().path), lora(QStringLiteral("peft")));
        QCOMPARE(request->loras.front().weight, -1.0);
        QCOMPARE(panel->entries().size(), 2);  // both still listed
    }

    void anotherBasesLoraCannotBeSwitchedOn() {
        ipsui::LoraPanel* panel = window->loras();
        QVERIFY(panel->addLora(lora(QStringLiteral("xl_style"))));
        ipsui::LoraRow* row = panel->row(0);
        QVERIFY(!row->usable());
        QVERIFY(!row->enabledBox()->isEnabled() && !row->enabledBox()->isChecked());
        QTest::mouseClick(row->enabledBox(), Qt::LeftButton);
        QVERIFY(!row->enabledBox()->isChecked());
        QVERIFY2(row->enabledBox()->toolTip().contains(QStringLiteral("made for sdxl")), qPrintable(row->enabledBox()->toolTip()));
        // Even a preset that has it on does not send it.
        panel->setEntries({{lora(QStringLiteral("xl_style")), 1.0, true}});
        QVERIFY(panel->activeLoras().empty());
        QString error;
        const auto request = window->buildRequest(&error);
        QVERIFY2(request, qPrintable(error));
        QVERIFY(request->loras.empty());
        // A file that is no LoRA at all is refused with a message, and adds nothing.
        QSignalSpy problems(panel, &ipsui::LoraPanel::problem);
        QVERIFY(!panel->addLora(dataFile("tiny-ip-adapter/ip-adapter_sd15.safetensors")));
        QCOMPARE(problems.count(), 1);
        QVERIFY(problems.front().front().toString().contains(QStringLiteral("not a LoRA")));
        QCOMPARE(panel->rowCount(), 1);
    }

    void triggerWordsGoIntoThePromptAtTheCursor() {
        QPlainTextEdit edit(QStringLiteral("a portrait in the forest"));
        QTextCursor cursor = edit.textCursor();
        cursor.setPosition(10);  // after "portrait"
        edit.setTextCursor(cursor);
        ipsui::insertTriggerWord(&edit, QStringLiteral("mychar"));
        QCOMPARE(edit.toPlainText(), QStringLiteral("a portrait, mychar in the forest"));
        QCOMPARE(edit.textCursor().position(), 18);  // after the word: the next one follows it
        cursor.setPosition(0);
        edit.setTextCursor(cursor);
        ipsui::insertTriggerWord(&edit, QStringLiteral("red hat"));
        QCOMPARE(edit.toPlainText(), QStringLiteral("red hat, a portrait, mychar in the forest"));
        edit.moveCursor(QTextCursor::End);
        ipsui::insertTriggerWord(&edit, QStringLiteral("x"));
        QVERIFY(edit.toPlainText().endsWith(QStringLiteral("forest, x")));

        // In the window: the chips of the row, most used first, write into the prompt.
        ipsui::LoraPanel* panel = window->loras();
        QVERIFY(panel->addLora(lora(QStringLiteral("my_character"))));
        const auto chips = panel->row(0)->triggerChips();
        QCOMPARE(chips.size(), 2);
        QCOMPARE(chips[0]->text(), QStringLiteral("mychar"));
        QCOMPARE(chips[1]->text(), QStringLiteral("red hat"));
        window->promptEdit()->setPlainText(QStringLiteral("a cat"));
        window->promptEdit()->moveCursor(QTextCursor::End);
        QTest::mouseClick(chips[1], Qt::LeftButton);
        QCOMPARE(window->promptEdit()->toPlainText(), QStringLiteral("a cat, red hat"));
    }

    void presetsKeepTheListWithOnAndOff() {
        ipsui::LoraPanel* panel = window->loras();
        const QList<ipsui::LoraEntry> list{{lora(QStringLiteral("kohya_alpha")), 0.6, true},
                                           {lora(QStringLiteral("peft")), -1.25, false},
                                           {lora(QStringLiteral("kohya_ldm")), 3.5, true}};
        panel->setEntries(list);
        QVERIFY(window->savePreset(QStringLiteral("lora look"), true));
        // The preset itself stays a request any tool runs: the LoRAs that are on.
        const auto saved = ips::read_request_file(ipsui::toFsPath(QDir(window->presets().userFolder()).filePath(QStringLiteral("lora look.json"))));
        QCOMPARE(saved.loras.size(), std::size_t(2));

        panel->setEntries({{lora(QStringLiteral("diffusers_old")), 1.0, true}});
        QVERIFY(window->loadPreset(QStringLiteral("lora look")));
        // Those that are on in their order, then those that are off.
        QCOMPARE(panel->entries(), (QList<ipsui::LoraEntry>{list[0], list[2], list[1]}));
        // Undo puts back the list from before.
        window->undoPresetLoad();
        QCOMPARE(panel->entries(), (QList<ipsui::LoraEntry>{{lora(QStringLiteral("diffusers_old")), 1.0, true}}));
        // A preset without LoRAs (the built-ins) keeps the ones in use, as it keeps the prompt.
        QVERIFY(window->loadPreset(QStringLiteral("fast draft")));
        QCOMPARE(panel->entries().size(), 1);
        // Renamed and deleted with the preset.
        window->presets().rename(QStringLiteral("lora look"), QStringLiteral("lora look 2"));
        QCOMPARE(window->presets().disabledLoras(QStringLiteral("lora look 2")).size(), std::size_t(1));
        window->presets().remove(QStringLiteral("lora look 2"));
        QVERIFY(window->presets().disabledLoras(QStringLiteral("lora look 2")).empty());
    }

    // The built-in speed presets name the catalog's LoRAs by file name: found in the models folder's loras/
    // once downloaded; until then listed as missing, never sent, with where to get them.
    void speedPresetsUseTheCatalogLoras() {
        const auto catalog = ipsui::ModelCatalog::builtIn();
        const QString models = QDir(ipstest::testContext(dir).dataFolder).filePath(QStringLiteral("models"));
        const auto* lcm = catalog.find(QStringLiteral("lcm-lora-sdv1-5"));
        QVERIFY(lcm && lcm->role == QStringLiteral("lora"));
        QCOMPARE(lcm->installedPath(models), QDir(models).filePath(QStringLiteral("loras/lcm-lora-sdv1-5.safetensors")));
        QCOMPARE(lcm->files.front().size, qint64(134621556));
        QVERIFY(catalog.find(QStringLiteral("hyper-sd15-8steps-cfg")) && catalog.find(QStringLiteral("tcd-sd15")));
        QVERIFY(QDir().mkpath(QFileInfo(lcm->installedPath(models)).absolutePath()));
        QVERIFY(QFile::copy(lora(QStringLiteral("peft")), lcm->installedPath(models)));

        ipsui::LoraPanel* panel = window->loras();
        QVERIFY(window->loadPreset(QStringLiteral("Live (LCM)")));
        QCOMPARE(panel->entries(), (QList<ipsui::LoraEntry>{{lcm->installedPath(models), 1.0, true}}));
        ips::GenerationRequest r = window->settingsRequest();
        QCOMPARE(r.scheduler, std::string("lcm"));
        QCOMPARE(r.num_inference_steps, 4);
        QCOMPARE(r.guidance_scale, 1.0);
        QCOMPARE(r.loras.size(), std::size_t(1));
        QCOMPARE(ipsui::fromFsPath(r.loras[0].path), lcm->installedPath(models));

        QVERIFY(window->loadPreset(QStringLiteral("Realtime (Hyper-SD)")));
        r = window->settingsRequest();
        QCOMPARE(r.scheduler, std::string("euler"));
        QCOMPARE(r.timestep_spacing, std::string("trailing"));  // Hyper-SD's setting, shown in the Timesteps box
        QCOMPARE(window->settings()->spacingBox()->currentData().toString(), QStringLiteral("trailing"));
        QCOMPARE(r.num_inference_steps, 8);
        QCOMPARE(r.guidance_scale, 3.5);
        QVERIFY(r.loras.empty());  // not downloaded: listed, not sent
        QCOMPARE(panel->rowCount(), 1);
        QVERIFY(panel->row(0)->missing());
        QVERIFY2(window->statusText().contains(QStringLiteral("Hyper-SD15 8 steps CFG LoRA")) && window->statusText().contains(QStringLiteral("Model manager")),
                 qPrintable(window->statusText()));
        // A preset loaded back from the user's folder keeps the spacing.
        QVERIFY(window->savePreset(QStringLiteral("my realtime"), true));
        QCOMPARE(window->presets().load(QStringLiteral("my realtime")).timestep_spacing, std::string("trailing"));
        window->presets().remove(QStringLiteral("my realtime"));
    }

    // The model manager's Use on a downloaded speed LoRA puts it in the LoRA list.
    void modelManagerAddsACatalogLora() {
        auto* manager = qobject_cast<ipsui::ModelManagerDialog*>(window->openModelManager());
        QVERIFY(manager);
        QTreeWidget* view = manager->catalogView();
        QTreeWidgetItem* row = nullptr;
        for (int i = 0; i < view->topLevelItemCount(); ++i)
            if (view->topLevelItem(i)->data(0, Qt::UserRole).toString() == QStringLiteral("lcm-lora-sdv1-5")) row = view->topLevelItem(i);
        QVERIFY(row);
        QCOMPARE(row->text(1), QStringLiteral("lora"));
        view->setCurrentItem(row);
        QPushButton* use = nullptr;
        for (auto* b : manager->findChildren<QPushButton*>())
            if (b->text() == QStringLiteral("Use") && b->isVisible()) use = b;
        QVERIFY(use);
        use->click();
        const QString installed = ipsui::ModelCatalog::builtIn().find(QStringLiteral("lcm-lora-sdv1-5"))->installedPath(
            QDir(ipstest::testContext(dir).dataFolder).filePath(QStringLiteral("models")));
        QCOMPARE(window->loras()->entries(), (QList<ipsui::LoraEntry>{{installed, 1.0, true}}));
        manager->close();
    }

    void aMissingFileIsMarkedAndNotSent() {
        const QString gone = dir.filePath(QStringLiteral("soon_gone.safetensors"));
        QVERIFY(QFile::copy(lora(QStringLiteral("kohya_noalpha")), gone));
        ipsui::LoraPanel* panel = window->loras();
        panel->setEntries({{gone, 0.8, true}, {lora(QStringLiteral("peft")), 0.5, true}});
        window->settings()->stepsBox()->setValue(12);
        QVERIFY(window->savePreset(QStringLiteral("with a gone lora"), true));
        QVERIFY(QFile::remove(gone));
        panel->clearLoras();
        window->settings()->stepsBox()->setValue(30);
        QVERIFY(window->loadPreset(QStringLiteral("with a gone lora")));
        QCOMPARE(window->settings()->stepsBox()->value(), 12);  // the rest loads
        QCOMPARE(panel->rowCount(), 2);
        QVERIFY(panel->row(0)->missing() && !panel->row(1)->missing());
        QVERIFY2(window->statusText().contains(QStringLiteral("missing")) && window->statusText().contains(QStringLiteral("soon_gone")),
                 qPrintable(window->statusText()));
        QString error;
        const auto request = window->buildRequest(&error);
        QVERIFY2(request, qPrintable(error));
        QCOMPARE(request->loras.size(), std::size_t(1));
        QCOMPARE(ipsui::fromFsPath(request->loras.front().path), lora(QStringLiteral("peft")));
        // The row keeps its weight and on/off for when the file is back.
        QCOMPARE(panel->entries().front(), (ipsui::LoraEntry{gone, 0.8, true}));
    }

    void removingARowCanBeUndone() {
        ipsui::LoraPanel* panel = window->loras();
        panel->setEntries({{lora(QStringLiteral("kohya_alpha")), 0.6, true}, {lora(QStringLiteral("peft")), -0.3, false}});
        QTest::mouseClick(panel->row(0)->removeButton(), Qt::LeftButton);
        QCOMPARE(panel->rowCount(), 1);
        QVERIFY2(window->messageText().contains(QStringLiteral("undo-lora")), qPrintable(window->messageText()));
        auto* label = window->banner()->findChild<QLabel*>();
        QVERIFY(label);
        Q_EMIT label->linkActivated(QStringLiteral("undo-lora"));
        QCOMPARE(panel->entries(), (QList<ipsui::LoraEntry>{{lora(QStringLiteral("kohya_alpha")), 0.6, true}, {lora(QStringLiteral("peft")), -0.3, false}}));
    }

    void historyAndSessionRestoreTheList() {
        ipsui::GenerationOutcome outcome;
        outcome.job = 1;
        outcome.seed = 7;
        outcome.request.model = ipstest::dataPath("tiny-sd15");
        outcome.request.loras = {{ipsui::toFsPath(lora(QStringLiteral("kohya_ldm"))), 0.45}};
        outcome.images = {QImage(dataFile("images/scene_128x128.png"))};
        window->history()->add(outcome);
        window->loras()->setEntries({{lora(QStringLiteral("peft")), 1.0, false}});
        Q_EMIT window->history()->restoreRequested(window->history()->count() - 1, true);
        QCOMPARE(window->loras()->entries(), (QList<ipsui::LoraEntry>{{lora(QStringLiteral("kohya_ldm")), 0.45, true}}));

        // Closing saves the list, on/off included; the next window starts with it.
        const QList<ipsui::LoraEntry> list{{lora(QStringLiteral("peft")), -0.5, false}, {lora(QStringLiteral("kohya_ldm")), 1.2, true}};
        window->loras()->setEntries(list);
        window->close();
        ipsui::MainWindow next(ipstest::testContext(dir));
        QCOMPARE(next.loras()->entries(), list);
        window->show();
    }
};

QTEST_MAIN(TestLoraPanel)
#include "test_lora_panel.moc"
