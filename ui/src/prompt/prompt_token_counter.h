#pragma once
// The token count of a prompt as the artist types, under the prompt syntax in use: "12 / 75", in A1111
// syntax one count per 75-token chunk ("75 + 12 · 2 chunks"), in the plain syntax a warning with the
// number of tokens the text encoder will never see. Counted with the model's own tokenizer (torch-free,
// a few milliseconds), a moment after the last key press.
#include <QLabel>
#include <QString>
#include <memory>
#include <optional>

#include "ips/clip_tokenizer.h"
#include "ips/prompt_syntax.h"

class QPlainTextEdit;
class QTimer;

namespace ipsui {

class PromptTokenCounter : public QLabel {
    Q_OBJECT
public:
    explicit PromptTokenCounter(QPlainTextEdit* edit, QWidget* parent = nullptr);
    ~PromptTokenCounter() override;

    // A diffusers tokenizer/ folder; nothing is shown without one (or when it cannot be read).
    void setTokenizerFolder(const QString& folder);
    void setSyntax(ips::PromptSyntax syntax);
    void setPrefix(const QString& prefix) { prefix_ = prefix; }  // "Prompt: "
    void refresh();  // counts now (tests; the edits call it after a short pause)

    // The label's text for a count.
    static QString describe(const ips::PromptTokenCount& count, ips::PromptSyntax syntax);

private:
    QPlainTextEdit* edit_;
    QTimer* pause_;
    QString folder_;
    QString prefix_;
    std::unique_ptr<ips::ClipTokenizer> tokenizer_;
    ips::PromptSyntax syntax_ = ips::PromptSyntax::A1111;
};

}  // namespace ipsui
