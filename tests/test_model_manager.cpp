// The model manager: the catalog's rows, models found on disk used in place, and the first run offering
// it when no base model is configured.
#include <QtTest>

#include <QApplication>
#include <QTreeWidget>

#include "model_manager_dialog.h"
#include "models_dialog.h"
#include "ui_test_env.h"

namespace fs = std::filesystem;
using ipstest::dataFile;
using ipstest::dataPath;

class TestModelManager : public QObject {
    Q_OBJECT
    QTemporaryDir dir;

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
        dialog.scanFolder(QString::fromStdString(comfy.string()));
        QTreeWidget* view = dialog.foundView();
        QCOMPARE(view->topLevelItemCount(), 2);
        QTreeWidgetItem* plus = nullptr;
        QTreeWidgetItem* broken = nullptr;
        for (int i = 0; i < 2; ++i) {
            auto* row = view->topLevelItem(i);
            (row->text(0).endsWith(QStringLiteral("plus.safetensors")) ? plus : broken) = row;
        }
        QVERIFY(plus && broken);
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
