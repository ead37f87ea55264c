// The model manager: the catalog's rows, models found on disk used in place, and the first run offering
// it when no base model is configured.
#include <QtTest>

#include <QSettings>

#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QTreeWidget>
#include <QTreeWidgetItemIterator>

#include "ips/model_discovery.h"
#include "model_manager_dialog.h"
#include "models_dialog.h"
#include "qt_convert.h"
#include "ui_test_env.h"

namespace fs = std::filesystem;
using ipstest::dataFile;
using ipstest::dataPath;

class TestModelManager : public QObject {
    Q_OBJECT
    QTemporaryDir dir;

    // Scans run off the UI thread: wait for this folder's rows. A new dialog first searches the Hugging Face
    // cache (started from its event loop); that search ends first, so the folder's is the latest, as a user's is.
    static void scanAndWait(ipsui::ModelManagerDialog& dialog, const QString& folder) {
        QSignalSpy done(&dialog, &ipsui::ModelManagerDialog::scanFinished);
        const QString cache = ipsui::fromFsPath(ips::huggingface_hub_cache());
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(done.begin(), done.end(), [&](const QList<QVariant>& args) { return args.at(0).toString() == cache; }), 30000);
        dialog.scanFolder(folder);
        QTRY_VERIFY_WITH_TIMEOUT(std::any_of(done.begin(), done.end(), [&](const QList<QVariant>& args) { return args.at(0).toString() == folder; }), 30000);
    }

private Q_SLOTS:
    void initTestCase() {
        ipstest::isolateSettings(dir);
        qputenv("HF_HUB_CACHE", dir.filePath(QStringLiteral("no-hub-cache")).toUtf8());
    }

    void catalogRowsShowWhatIsMissing() {
        const QString models = dir.filePath(QStringLiteral("models"));
        // One model already in place: its file at the catalog's destination.
        const auto catalog = ipsui::ModelCatalog::builtIn();
        const auto* base = catalog.find(QStringLiteral("ip-adapter-sd15"));
        QVERIFY(base);
        const QString destination = base->destination(models, base->files.front());
        QVERIFY(QDir().mkpath(QFileInfo(destination).absolutePath()));
        QVERIFY(QFile::copy(dataFile("tiny-ip-adapter/ip-adapter_sd15.safetensors"), destination));

        ipsui::ModelManagerDialog dialog(models);
        QTreeWidget* view = dialog.catalogView();
        QCOMPARE(view->topLevelItemCount(), int(catalog.models.size()));
        int installed = 0, missing = 0;
        for (int i = 0; i < view->topLevelItemCount(); ++i) {
            const auto* row = view->topLevelItem(i);
            if (row->text(3) == QStringLiteral("installed")) ++installed;
            if (row->text(3) == QStringLiteral("missing")) ++missing;
            if (row->data(0, Qt::UserRole).toString() == QStringLiteral("sd15"))
                QVERIFY2(row->text(2).contains(QLatin1Char('G')), qPrintable(row->text(2)));  // 2.1 GB of fp16 weights
        }
        QCOMPARE(installed, 1);
        QCOMPARE(missing, view->topLevelItemCount() - 1);
    }

    void accessTokenIsKeptAndSaysWhere() {
        {
            ipsui::ModelManagerDialog dialog(dir.filePath(QStringLiteral("models")));
            dialog.tokenEdit()->setText(QStringLiteral("hf_test_token"));
            Q_EMIT dialog.tokenEdit()->editingFinished();
            // No secret store in tests: the stated fallback, naming the file.
            QTRY_VERIFY2(dialog.catalogMessage()->text().contains(QSettings().fileName()), qPrintable(dialog.catalogMessage()->text()));
        }
        ipsui::ModelManagerDialog again(dir.filePath(QStringLiteral("models")));
        QTRY_COMPARE(again.tokenEdit()->text(), QStringLiteral("hf_test_token"));
        again.tokenEdit()->clear();
        Q_EMIT again.tokenEdit()->editingFinished();
        QTRY_VERIFY(!QSettings().contains(QStringLiteral("downloads/token")));
    }

    // A LoRA found on this computer (SD 1.x) is not greyed: Use puts it in the LoRA list (loraChosen).
    void foundLoraGoesToTheLoraList() {
        const fs::path folder = fs::u8path(dir.filePath(QStringLiteral("ComfyUI-loras")).toStdString());
        fs::create_directories(folder / "models/loras");
        fs::copy_file(dataPath("lora/peft.safetensors"), folder / "models/loras/style.safetensors");
        ipsui::ModelManagerDialog dialog(dir.filePath(QStringLiteral("models")));
        QStringList loras;
        bool modelChosen = false;
        connect(&dialog, &ipsui::ModelManagerDialog::loraChosen, this, [&](const QString& path) { loras << path; });
        connect(&dialog, &ipsui::ModelManagerDialog::modelChosen, this, [&] { modelChosen = true; });
        scanAndWait(dialog, QString::fromStdString(folder.string()));
        QTreeWidgetItem* row = nullptr;
        for (QTreeWidgetItemIterator it(dialog.foundView()); *it; ++it)
            if ((*it)->text(0).startsWith(QStringLiteral("style.safetensors"))) row = *it;
        QVERIFY(row);
        QCOMPARE(row->foreground(0).style(), Qt::NoBrush);  // usable: not greyed like the rows that cannot be used
        dialog.foundView()->setCurrentItem(row);
        Q_EMIT dialog.foundView()->itemDoubleClicked(row, 0);
        QCOMPARE(loras, QStringList{QString::fromStdString((folder / "models/loras/style.safetensors").string())});
        QVERIFY(!modelChosen);
    }

    void foundModelsAreUsedInPlace() {
        const fs::path comfy = fs::u8path(dir.filePath(QStringLiteral("ComfyUI")).toStdString());
        fs::create_directories(comfy / "models/ipadapter");
        fs::create_directories(comfy / "models/checkpoints");
        fs::copy_file(dataPath("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors"), comfy / "models/ipadapter/plus.safetensors");
        ipstest::writeBytes(comfy / "models/checkpoints/broken.safetensors", "garbage");

        ipsui::ModelManagerDialog dialog(dir.filePath(QStringLiteral("models")));
        QList<std::pair<ipsui::ModelRole, QString>> chosen;
        connect(&dialog, &ipsui::ModelManagerDialog::modelChosen, this,
                [&](ipsui::ModelRole role, const QString& path) { chosen.append({role, path}); });
        scanAndWait(dialog, QString::fromStdString(comfy.string()));
        QTreeWidget* view = dialog.foundView();
        // The model first; the unreadable file under the "not models" row.
        QCOMPARE(view->topLevelItemCount(), 2);
        QTreeWidgetItem* plus = view->topLevelItem(0);
        QVERIFY2(plus->text(0).startsWith(QStringLiteral("plus.safetensors")), qPrintable(plus->text(0)));
        QCOMPARE(view->topLevelItem(1)->childCount(), 1);
        QTreeWidgetItem* broken = view->topLevelItem(1)->child(0);
        QVERIFY(broken->text(0).startsWith(QStringLiteral("broken.safetensors")));
        QCOMPARE(plus->text(1), QStringLiteral("ip-adapter (plus)"));
        QCOMPARE(plus->text(4), QStringLiteral("ComfyUI"));
        QVERIFY(!broken->text(5).isEmpty());  // the reason it cannot be used
        view->setCurrentItem(broken);
        Q_EMIT view->itemDoubleClicked(broken, 0);
        QVERIFY(chosen.isEmpty());
        view->setCurrentItem(plus);
        Q_EMIT view->itemDoubleClicked(plus, 0);
        QCOMPARE(chosen.size(), 1);
        QCOMPARE(chosen[0].first, ipsui::ModelRole::IpAdapter);
        QCOMPARE(chosen[0].second, QString::fromStdString((comfy / "models/ipadapter/plus.safetensors").string()));
    }

    void foundListLeadsWithModels() {
        // A folder of 3 models among 6 files that are not models (what a LoRA or upscaler folder looks like
        // to the scan), with the models' names sorting last.
        const fs::path folder = fs::u8path(dir.filePath(QStringLiteral("mixed")).toStdString());
        fs::create_directories(folder);
        for (int i = 0; i < 6; ++i) ipstest::writeBytes(folder / ("a-foreign-" + std::to_string(i) + ".safetensors"), "not a model at all");
        fs::copy_file(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"), folder / "zz-adapter.safetensors");
        fs::copy(dataPath("tiny-controlnet"), folder / "zz-controlnet", fs::copy_options::recursive);
        fs::copy_file(dataPath("tiny-sd15-single.safetensors"), folder / "zz-checkpoint.safetensors");

        ipsui::ModelManagerDialog dialog(dir.filePath(QStringLiteral("models")));
        scanAndWait(dialog, QString::fromStdString(folder.string()));
        QTreeWidget* view = dialog.foundView();
        QCOMPARE(view->topLevelItemCount(), 4);  // 3 models + one row for the rest
        // Grouped by kind: the base model first, then the adapter, then the ControlNet.
        QVERIFY2(view->topLevelItem(0)->text(0).startsWith(QStringLiteral("zz-checkpoint.safetensors")), qPrintable(view->topLevelItem(0)->text(0)));
        QVERIFY2(view->topLevelItem(1)->text(0).startsWith(QStringLiteral("zz-adapter.safetensors")), qPrintable(view->topLevelItem(1)->text(0)));
        QVERIFY2(view->topLevelItem(2)->text(0).startsWith(QStringLiteral("zz-controlnet")), qPrintable(view->topLevelItem(2)->text(0)));
        QTreeWidgetItem* others = view->topLevelItem(3);
        QCOMPARE(others->childCount(), 6);
        QVERIFY2(others->text(0).contains(QStringLiteral("Not models (6)")), qPrintable(others->text(0)));
        QVERIFY(!others->isExpanded());
        QCOMPARE(dialog.countText(), QStringLiteral("3 models, 6 other files"));
        QVERIFY2(dialog.foundMessage()->text().contains(QStringLiteral("3 models, 6 other files")), qPrintable(dialog.foundMessage()->text()));
        // The scan's message stays on its own tab.
        QVERIFY(dialog.catalogMessage()->text().isEmpty());
    }

    void offlineDownloadsAllReachAFinalState() {
        // Eight recommended models on a host that cannot be looked up (as with no network): every row
        // must end "failed" with a plain message, none stuck at "starting…" or "queued".
        QByteArray json = R"({"schema": 1, "hub": "https://ipstudio-offline-test.invalid", "models": [)";
        for (int i = 0; i < 8; ++i) {
            if (i) json += ",";
            json += QStringLiteral(R"({"id": "m%1", "name": "Model %1", "role": "ip-adapter", "base": "sd1.x", "repo": "org/m%1",
                "revision": "main", "folder": "m%1", "recommended": true,
                "files": [{"path": "a.safetensors", "size": 1000}, {"path": "b.safetensors", "size": 1000}]})")
                        .arg(i)
                        .toUtf8();
        }
        json += "]}";
        const ipsui::ModelCatalog catalog = ipsui::ModelCatalog::parse(json, QStringLiteral("test catalog"));
        QCOMPARE(catalog.models.size(), 8);
        ipsui::ModelManagerDialog dialog(dir.filePath(QStringLiteral("offline-models")));
        dialog.setCatalog(catalog);
        dialog.downloadRecommended();
        const auto allFailed = [&] {
            for (const auto& m : catalog.models)
                if (!dialog.rowStatus(m.id).startsWith(QStringLiteral("failed"))) return false;
            return true;
        };
        QTRY_VERIFY_WITH_TIMEOUT(allFailed(), 30000);  // under the 60 s stall timeout: a stuck request fails the test
        for (const auto& m : catalog.models) {
            const QString status = dialog.rowStatus(m.id);
            QVERIFY2(status.contains(QStringLiteral("offline")) && status.contains(QStringLiteral("ipstudio-offline-test.invalid")) &&
                         status.contains(QStringLiteral("On this computer")),
                     qPrintable(status));
        }
        QVERIFY(dialog.catalogMessage()->text().contains(QStringLiteral("offline")));
        QVERIFY2(!dialog.foundMessage()->text().contains(QStringLiteral("offline")), qPrintable(dialog.foundMessage()->text()));
        // Nothing half-written is left at a model's place.
        for (const auto& m : catalog.models) QVERIFY(!m.isInstalled(dir.filePath(QStringLiteral("offline-models"))));
        // A second try fails the same way (the rows do not stay "queued").
        dialog.downloadRecommended();
        QTRY_VERIFY_WITH_TIMEOUT(allFailed(), 30000);  // under the 60 s stall timeout: a stuck request fails the test
    }

    void typedModelPathsAreChecked() {
        ipsui::ModelsDialog dialog({});
        QLineEdit* base = dialog.pathEdit(ipsui::ModelRole::BaseModel);
        QVERIFY(base && !base->isReadOnly());
        base->setText(QStringLiteral("  \"%1\" ").arg(dataFile("tiny-sd15")));  // pasted with quotes and spaces
        Q_EMIT base->editingFinished();
        QCOMPARE(dialog.config().baseModel, dataFile("tiny-sd15"));
        // A typed path that is not a base model is refused; the field goes back to the chosen one.
        base->setText(dataFile("tiny-controlnet"));
        Q_EMIT base->editingFinished();
        QCOMPARE(dialog.config().baseModel, dataFile("tiny-sd15"));
        QCOMPARE(base->text(), dataFile("tiny-sd15"));
        QVERIFY(!dialog.lastError().isEmpty());
        // Optional slots take an empty field as "none".
        QLineEdit* vae = dialog.pathEdit(ipsui::ModelRole::Vae);
        vae->setText(QStringLiteral("file://") + dataFile("tiny-sd15/vae"));
        Q_EMIT vae->editingFinished();
        QCOMPARE(dialog.config().vae, dataFile("tiny-sd15/vae"));
        vae->clear();
        Q_EMIT vae->editingFinished();
        QVERIFY(dialog.config().vae.isEmpty());
    }

    void separateVaeIsChosenAndChecked() {
        ipsui::ModelsDialog dialog({});
        QVERIFY2(dialog.choose(ipsui::ModelRole::Vae, dataFile("tiny-sd15/vae")), qPrintable(dialog.lastError()));
        QCOMPARE(dialog.config().vae, dataFile("tiny-sd15/vae"));
        QVERIFY(!dialog.choose(ipsui::ModelRole::Vae, dataFile("tiny-controlnet")));
        QVERIFY(dialog.lastError().contains(QStringLiteral("expected a VAE")));
        QCOMPARE(dialog.config().vae, dataFile("tiny-sd15/vae"));
        // It persists with the other models.
        QSettings settings;
        dialog.config().save(settings);
        ipsui::ModelConfig loaded;
        loaded.load(settings);
        QCOMPARE(loaded.vae, dataFile("tiny-sd15/vae"));
        settings.remove(QStringLiteral("models"));
    }

    void previewDecoderIsChosenAndChecked() {
        ipsui::ModelsDialog dialog({});
        QVERIFY2(dialog.choose(ipsui::ModelRole::PreviewDecoder, dataFile("tiny-taesd")), qPrintable(dialog.lastError()));
        QCOMPARE(dialog.config().previewDecoder, dataFile("tiny-taesd"));
        QVERIFY(!dialog.choose(ipsui::ModelRole::PreviewDecoder, dataFile("tiny-sd15/vae")));
        QVERIFY2(dialog.lastError().contains(QStringLiteral("expected a TAESD preview decoder")), qPrintable(dialog.lastError()));
        QCOMPARE(dialog.config().previewDecoder, dataFile("tiny-taesd"));
        QSettings settings;
        dialog.config().save(settings);
        ipsui::ModelConfig loaded;
        loaded.load(settings);
        QCOMPARE(loaded.previewDecoder, dataFile("tiny-taesd"));
        settings.remove(QStringLiteral("models"));
    }

    void firstRunOffersTheModelManagerOnce() {
        QSettings().remove(QStringLiteral("firstRun/modelManagerOffered"));
        {
            ipsui::MainWindow window(ipstest::testContext(dir));
            window.show();
            QTRY_VERIFY(window.findChild<ipsui::ModelManagerDialog*>() && window.findChild<ipsui::ModelManagerDialog*>()->isVisible());
            // Choosing a found model configures it for generations.
            auto* dialog = window.findChild<ipsui::ModelManagerDialog*>();
            Q_EMIT dialog->modelChosen(ipsui::ModelRole::BaseModel, dataFile("tiny-sd15"));
            QCOMPARE(QSettings().value(QStringLiteral("models/base")).toString().isEmpty(), false);
        }
        QSettings().remove(QStringLiteral("models"));
        ipsui::MainWindow again(ipstest::testContext(dir));
        again.show();
        QTest::qWait(100);
        QVERIFY(!again.findChild<ipsui::ModelManagerDialog*>());
    }
};

QTEST_MAIN(TestModelManager)
#include "test_model_manager.moc"
