#pragma once
// Textual-inversion embeddings as A1111 and ComfyUI artists use them: every file in the installations'
// embedding folders is available by its name, and typing the name (A1111) or embedding:name (ComfyUI) in a
// prompt uses it. The window sends the engine only the embeddings a prompt names.
#include <QList>
#include <QString>
#include <QStringList>
#include <vector>

#include "ips/generation.h"

namespace ipsui {

struct EmbeddingFile {
    QString path;
    QString token;  // the file name without its extension
};

// embeddings/ (A1111) and models/embeddings (ComfyUI) of the installations above the model paths, plus
// `extraFolders`; only folders that exist.
QStringList embeddingFolders(const QStringList& modelPaths, const QStringList& extraFolders);

// The .pt / .safetensors / .bin files directly in the folders (a directory listing: no file is opened; a
// file that is not an embedding is refused by the engine, with its name, only when a prompt uses it).
QList<EmbeddingFile> findEmbeddings(const QStringList& folders);

// The embeddings whose token appears in one of the texts as a whole word ("EasyNegative", or
// "embedding:EasyNegative"), each once, in the order of `known`.
std::vector<ips::EmbeddingSettings> embeddingsUsedIn(const QList<EmbeddingFile>& known, const QStringList& texts);

}  // namespace ipsui
