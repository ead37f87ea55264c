#pragma once
// Named presets: request JSON files (the pipeline's format) in the user's data folder, plus read-only
// built-ins shipped in the resources. Every failure throws ips::InputError naming the preset.
#include <QList>
#include <QString>

#include "ips/generation.h"

namespace ipsui {

struct PresetInfo {
    QString name;
    bool builtIn = false;
};

class PresetStore {
public:
    explicit PresetStore(QString userFolder, QString builtInFolder = QStringLiteral(":/presets"));

    QList<PresetInfo> list() const;  // built-ins first, then the user's, by name
    bool exists(const QString& name) const;
    bool isBuiltIn(const QString& name) const;
    ips::GenerationRequest load(const QString& name) const;
    // Refuses to replace an existing user preset unless `overwrite`, and never replaces a built-in.
    // `disabledLoras`: LoRAs listed but switched off. The request format has no "off", so they are kept
    // beside the preset (disabled-loras/NAME.json) and the preset itself stays a request any tool runs.
    void save(const QString& name, const ips::GenerationRequest& request, bool overwrite,
              const std::vector<ips::LoraSettings>& disabledLoras = {});
    std::vector<ips::LoraSettings> disabledLoras(const QString& name) const;
    void rename(const QString& from, const QString& to);
    void remove(const QString& name);

    QString userFolder() const { return userFolder_; }
    // Empty when `name` can be a file name on every system, else why not.
    static QString nameProblem(const QString& name);

private:
    QString userFile(const QString& name) const;
    QString builtInFile(const QString& name) const;
    QString disabledLorasFile(const QString& name) const;

    QString userFolder_;
    QString builtInFolder_;
};

}  // namespace ipsui
