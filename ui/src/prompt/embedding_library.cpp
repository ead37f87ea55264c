#include "embedding_library.h"

#include <QDir>
#include <QFileInfo>

#include "installation_folders.h"
#include "qt_convert.h"

namespace ipsui {

namespace {

// A token character as artists name embedding files ("bad-hands-5", "EasyNegative_v2").
bool isNameChar(QChar c) { return c.isLetterOrNumber() || c == u'_' || c == u'-' || c == u'.'; }

bool containsWord(const QString& text, const QString& word) {
    for (qsizetype at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
        const qsizetype end = at + word.size();
        const bool startsWord = at == 0 || !isNameChar(text[at - 1]) || text.mid(0, at).endsWith(QStringLiteral("embedding:"));
        const bool endsWord = end == text.size() || !isNameChar(text[end]);
        if (startsWord && endsWord) return true;
    }
    return false;
}

}  // namespace

QStringList embeddingFolders(const QStringList& modelPaths, const QStringList& extraFolders) {
    return installationFolders(modelPaths, {QStringLiteral("embeddings"), QStringLiteral("models/embeddings")}, extraFolders);
}

QList<EmbeddingFile> findEmbeddings(const QStringList& folders) {
    QList<EmbeddingFile> found;
    QStringList tokens;
    for (const QString& folder : folders) {
        const auto files = QDir(folder).entryInfoList({QStringLiteral("*.pt"), QStringLiteral("*.safetensors"), QStringLiteral("*.bin")},
                                                      QDir::Files, QDir::Name);
        for (const QFileInfo& f : files) {
            const QString token = f.completeBaseName();
            if (tokens.contains(token)) continue;  // the first folder's file of a name wins, as in A1111
            tokens << token;
            found << EmbeddingFile{f.absoluteFilePath(), token};
        }
    }
    return found;
}

std::vector<ips::EmbeddingSettings> embeddingsUsedIn(const QList<EmbeddingFile>& known, const QStringList& texts) {
    std::vector<ips::EmbeddingSettings> used;
    for (const EmbeddingFile& e : known) {
        const bool named = std::any_of(texts.begin(), texts.end(), [&](const QString& t) { return containsWord(t, e.token); });
        if (named) used.push_back({toFsPath(e.path), e.token.toStdString()});
    }
    return used;
}

}  // namespace ipsui
