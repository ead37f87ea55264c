#pragma once
// Puts a GUI test's settings, presets and caches in a scratch folder so tests never touch (or depend
// on) the user's own, and builds the model configuration of the tiny fixture models.
#include <QCoreApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "main_window.h"
#include "model_config.h"
#include "test_paths.h"

namespace ipstest {

inline QString dataFile(const std::string& relative) { return QString::fromStdString(dataPath(relative).string()); }

inline void isolateSettings(const QTemporaryDir& dir) {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("IPStudioTests"));
    QCoreApplication::setApplicationName(QStringLiteral("ipstudio-tests"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir.filePath(QStringLiteral("settings")));
    QSettings().clear();
    // The user's keyring is never touched by a test: the access token uses the settings-file fallback.
    qputenv("IPS_NO_SECRET_STORE", "1");
    // The first-run model manager would open over every test window; test_model_manager covers it.
    QSettings().setValue(QStringLiteral("firstRun/modelManagerOffered"), true);
}

inline ipsui::ModelConfig tinyModels() {
    ipsui::ModelConfig m;
    m.baseModel = dataFile("tiny-sd15");
    m.ipAdapters = {dataFile("tiny-ip-adapter/ip-adapter_sd15.safetensors"), dataFile("tiny-ip-adapter/ip-adapter-plus_sd15.safetensors")};
    m.imageEncoder = dataFile("tiny-sd15/image_encoder");
    m.controlNets = {dataFile("tiny-controlnet")};
    return m;
}

inline ipsui::AppContext testContext(const QTemporaryDir& dir) {
    ipsui::AppContext c;
    c.dataFolder = dir.filePath(QStringLiteral("data"));
    c.cacheFolder = dir.filePath(QStringLiteral("cache"));
    return c;
}

}  // namespace ipstest
