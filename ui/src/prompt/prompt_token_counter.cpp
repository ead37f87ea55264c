#include "prompt_token_counter.h"

#include <QPlainTextEdit>
#include <QStringList>
#include <QTimer>

#include "qt_convert.h"

namespace ipsui {

PromptTokenCounter::PromptTokenCounter(QPlainTextEdit* edit, QWidget* parent) : QLabel(parent), edit_(edit), pause_(new QTimer(this)) {
    pause_->setSingleShot(true);
    pause_->setInterval(150);
    connect(pause_, &QTimer::timeout, this, &PromptTokenCounter::refresh);
    connect(edit_, &QPlainTextEdit::textChanged, pause_, qOverload<>(&QTimer::start));
    setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    setToolTip(tr("Tokens of this prompt, counted as the text encoder reads them (75 per window)"));
}

PromptTokenCounter::~PromptTokenCounter() = default;

void PromptTokenCounter::setTokenizerFolder(const QString& folder) {
    if (folder == folder_) return;
    folder_ = folder;
    tokenizer_.reset();
    if (!folder.isEmpty()) {
        try {
            tokenizer_ = std::make_unique<ips::ClipTokenizer>(ips::ClipTokenizer::from_folder(toFsPath(folder)));
        } catch (const std::exception&) {
            // No count rather than a wrong one; the generation names the broken tokenizer.
        }
    }
    refresh();
}

void PromptTokenCounter::setSyntax(ips::PromptSyntax syntax) {
    syntax_ = syntax;
    refresh();
}

void PromptTokenCounter::refresh() {
    if (!tokenizer_) {
        clear();
        return;
    }
    const auto count = ips::count_prompt_tokens(*tokenizer_, edit_->toPlainText().toStdString(), syntax_);
    setText(prefix_ + describe(count, syntax_));
    setStyleSheet(count.dropped_tokens > 0 ? QStringLiteral("color: #b00020;") : QString());
}

QString PromptTokenCounter::describe(const ips::PromptTokenCount& count, ips::PromptSyntax syntax) {
    const int perWindow = count.window - 2;
    if (syntax == ips::PromptSyntax::Plain) {
        if (count.dropped_tokens > 0)
            return tr("%1 tokens: the last %2 are ignored (turn on A1111 prompt syntax for long prompts)")
                .arg(count.total_tokens)
                .arg(count.dropped_tokens);
        return QStringLiteral("%1 / %2").arg(count.total_tokens).arg(perWindow);
    }
    if (count.chunk_tokens.size() <= 1)
        return QStringLiteral("%1 / %2").arg(count.chunk_tokens.empty() ? 0 : count.chunk_tokens.front()).arg(perWindow);
    QStringList parts;
    for (const int n : count.chunk_tokens) parts << QString::number(n);
    return tr("%1 \u00b7 %2 chunks").arg(parts.join(QStringLiteral(" + "))).arg(count.chunk_tokens.size());
}

}  // namespace ipsui
