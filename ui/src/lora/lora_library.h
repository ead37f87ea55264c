#pragma once
// The LoRA files the window can offer: what one file is (base, trigger words, why it cannot be used),
// where they are found (the LoRA folders of the ComfyUI / AUTOMATIC1111 / InvokeAI installations the
// configured models live in, the downloads folder, folders LoRAs were added from), and the list a
// session or preset keeps (path, weight, on/off: the request format has no "off").
#include <QList>
#include <QString>
#include <QStringList>
#include <vector>

#include "ips/generation.h"

namespace ipsui {

struct LoraFile {
    QString path;
    QString base;  // "sd1.x", "sdxl", ... (empty when the file does not say)
    QStringList triggerWords;
    QString problem;  // why it cannot be used ("missing", another base, not a LoRA, unreadable); empty when usable
    bool isLora = false;  // recognised as a LoRA (of any base)
    QString name() const;
};

// Inspects one file (tensor names and metadata only). Never throws: failures go to `problem`.
LoraFile describeLoraFile(const QString& path);

// Installation LoRA folders (models/loras, models/Lora, ...) above the given model paths, plus `extraFolders`;
// only folders that exist, each once.
QStringList loraFolders(const QStringList& modelPaths, const QStringList& extraFolders);

// Every LoRA below the folders, by name. Slow for big trees (it reads every weights file's header): run it
// off the UI thread.
QList<LoraFile> findLoras(const QStringList& folders);

// One row of the LoRA list.
struct LoraEntry {
    QString path;
    double weight = 1.0;
    bool enabled = true;
    bool operator==(const LoraEntry&) const = default;
};

QList<LoraEntry> lorasFromRequest(const std::vector<ips::LoraSettings>& loras);  // all enabled
std::vector<ips::LoraSettings> toLoraSettings(const QList<LoraEntry>& entries);  // every entry, on or off

// [{"path": ..., "weight": ..., "enabled": ...}]; unreadable text or entries are skipped.
QString lorasToJson(const QList<LoraEntry>& entries);
QList<LoraEntry> lorasFromJson(const QString& json);

}  // namespace ipsui
