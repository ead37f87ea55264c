#pragma once
// Folders of the ComfyUI / AUTOMATIC1111 / InvokeAI installations the configured models live in: where
// the window looks for an artist's LoRAs and textual-inversion embeddings.
#include <QString>
#include <QStringList>

namespace ipsui {

// For each model path, the first folder above it (a few levels at most) that is an installation's root,
// joined with each of `subfolders`; then `extraFolders`. Only folders that exist, each once.
QStringList installationFolders(const QStringList& modelPaths, const QStringList& subfolders, const QStringList& extraFolders);

}  // namespace ipsui
