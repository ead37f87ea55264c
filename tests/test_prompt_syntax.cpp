// The A1111 prompt syntax without torch: the parser against the examples of
// stable-diffusion-webui's parse_prompt_attention docstring, and the chunking of tokenize_line
// (75-token chunks, comma back-off, BREAK) on token sequences built by hand with the real
// tokenizer.
#include <QElapsedTimer>
#include <QtTest>

#include <sstream>

#include "ips/clip_tokenizer.h"
#include "ips/prompt_syntax.h"
#include "ips/request_json.h"
#include "test_paths.h"
#include "text/prompt_syntax_chunks.h"
#include "text/prompt_syntax_parser.h"

using ips::PromptSyntax;
using ips::text::PromptFragment;
using ipstest::dataPath;

namespace {

std::string describe(const std::vector<PromptFragment>& fragments) {
    std::ostringstream s;
    s.precision(17);
    for (const auto& f : fragments) s << "['" << f.text << "', " << f.weight << "] ";
    return s.str();
}

// Exact comparison: A1111 merges fragments on exactly equal weights, so the products must be the
// same doubles as Python's (the docstring prints them with repr, e.g. 1.5730000000000004).
void checkFragments(std::string_view prompt, const std::vector<PromptFragment>& expected) {
    const auto actual = ips::text::parse_prompt_attention(prompt);
    if (actual != expected)
        QFAIL(("parse_prompt_attention('" + std::string(prompt) + "')\n  got      " +
               describe(actual) + "\n  expected " + describe(expected))
                  .c_str());
}

std::string repeat(const std::string& word, int times) {
    std::string s;
    for (int i = 0; i < times; ++i) s += (i ? " " : "") + word;
    return s;
}

}  // namespace

class TestPromptSyntax : public QObject {
    Q_OBJECT
    std::optional<ips::ClipTokenizer> tok;
    std::int64_t cat = 0, dog = 0, comma = 0, bos = 0, eos = 0, pad = 0;

    // BOS + tokens + EOS + padding to 77.
    std::vector<std::int64_t> window(const std::vector<std::int64_t>& tokens) const {
        std::vector<std::int64_t> ids{bos};
        ids.insert(ids.end(), tokens.begin(), tokens.end());
        ids.push_back(eos);
        ids.resize(77, pad);
        return ids;
    }
    static std::vector<std::int64_t> times(std::int64_t token, int n) {
        return std::vector<std::int64_t>(static_cast<std::size_t>(n), token);
    }
    static std::vector<std::int64_t> join(std::initializer_list<std::vector<std::int64_t>> parts) {
        std::vector<std::int64_t> all;
        for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
        return all;
    }
    ips::text::ChunkedPrompt a1111(const std::string& prompt,
                                   int backtrack = ips::text::kCommaPaddingBacktrack) const {
        return ips::text::chunk_prompt(*tok, prompt, PromptSyntax::A1111, backtrack);
    }

private Q_SLOTS:
    void initTestCase() {
        tok.emplace(ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer")));
        // One token each (checked here, so the hand-built sequences below mean what they say).
        for (auto [word, id] :
             {std::pair{"cat", &cat}, std::pair{"dog", &dog}, std::pair{",", &comma}}) {
            const auto ids = tok->encode(word);
            QCOMPARE(ids.size(), std::size_t(1));
            *id = ids.front();
        }
        QCOMPARE(tok->encode("cat, dog"), (std::vector<std::int64_t>{cat, comma, dog}));
        bos = tok->bos_token_id();
        eos = tok->eos_token_id();
        pad = tok->pad_token_id();
    }

    // --- The parser: the docstring of A1111's parse_prompt_attention, input for input. ---
    void docstringExamples() {
        checkFragments("normal text", {{"normal text", 1.0}});
        checkFragments("an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
        checkFragments("(unbalanced", {{"unbalanced", 1.1}});
        checkFragments("\\(literal\\]", {{"(literal]", 1.0}});
        checkFragments("(unnecessary)(parens)", {{"unnecessaryparens", 1.1}});
        checkFragments("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                       {{"a ", 1.0},
                        {"house", 1.5730000000000004},
                        {" ", 1.1},
                        {"on", 1.0},
                        {" a ", 1.1},
                        {"hill", 0.55},
                        {", sun, ", 1.1},
                        {"sky", 1.4641000000000006},
                        {".", 1.1}});
    }

    void bracketsAndWeights() {
        checkFragments("((word))", {{"word", 1.1 * 1.1}});
        checkFragments("[word]", {{"word", 1 / 1.1}});
        checkFragments("[[word]]", {{"word", (1 / 1.1) * (1 / 1.1)}});
        checkFragments("(word:1.3)", {{"word", 1.3}});
        checkFragments("(word:-0.5) (x:.5) (y:+2)",
                       {{"word", -0.5}, {" ", 1.0}, {"x", 0.5}, {" ", 1.0}, {"y", 2.0}});
        // Spaces around the number are allowed (A1111 since 1.7: `:\s*([+-]?[.\d]+)\s*\)`).
        checkFragments("( word : 1.3 )", {{" word ", 1.3}});
        // Nesting multiplies, inner first: (a [b] (c:2))
        checkFragments("(a [b] (c:2))",
                       {{"a ", 1.1}, {"b", 1 / 1.1 * 1.1}, {" ", 1.1}, {"c", 2 * 1.1}});
        // A colon that is not a weight is text.
        checkFragments("(time: noon)", {{"time: noon", 1.1}});
    }

    void escapes() {
        checkFragments("\\(a\\) \\[b\\] \\\\", {{"(a) [b] \\", 1.0}});
        // A lone backslash is dropped (re_attention's `\\` alternative leaves "" after it).
        checkFragments("a\\b", {{"ab", 1.0}});
        checkFragments("(\\(x\\))", {{"(x)", 1.1}});
    }

    void unbalancedBrackets() {
        // A closing bracket with nothing open is literal text; an unclosed one weights the rest.
        checkFragments("a) b]", {{"a) b]", 1.0}});
        checkFragments("a (b [c", {{"a ", 1.0}, {"b ", 1.1}, {"c", 1.1 * (1 / 1.1)}});
        checkFragments("((a", {{"a", 1.1 * 1.1}});
        checkFragments("(a]", {{"a]", 1.1}});
        checkFragments("word:1.2)", {{"word:1.2)", 1.0}});  // a weight with no open bracket is text
        // A1111 raises on a number float() rejects; here it stays text (still inside its open
        // bracket).
        checkFragments("(a:1.2.3)", {{"a:1.2.3)", 1.1}});
        checkFragments("", {{"", 1.0}});
        checkFragments("()[]", {{"", 1.0}});
    }

    void breakKeyword() {
        checkFragments("a BREAK b", {{"a", 1.0}, {"BREAK", -1.0}, {"b", 1.0}});
        checkFragments("a,BREAK,b", {{"a,", 1.0}, {"BREAK", -1.0}, {",b", 1.0}});
        checkFragments("BREAK", {{"", 1.0}, {"BREAK", -1.0}, {"", 1.0}});
        checkFragments("a BREAK BREAK b",
                       {{"a", 1.0}, {"BREAK", -1.0}, {"", 1.0}, {"BREAK", -1.0}, {"b", 1.0}});
        // Upper case, a word of its own: everything else is text.
        checkFragments(
            "a break b BREAKING xBREAK BREAK_ BREAK2 \xC3\xA9"
            "BREAK",
            {{"a break b BREAKING xBREAK BREAK_ BREAK2 \xC3\xA9"
              "BREAK",
              1.0}});
        // Inside brackets its -1 is multiplied: A1111 then reads it as the word "BREAK".
        const auto inside = ips::text::parse_prompt_attention("(a BREAK b)");
        QCOMPARE(inside.size(), std::size_t(3));
        QCOMPARE(inside[1].text, std::string("BREAK"));
        QVERIFY(!inside[1].is_break());
        QVERIFY(ips::text::parse_prompt_attention("a BREAK b")[1].is_break());
    }

    // --- Chunking (tokenize_line). ---
    void shortPromptIsTheTokenizersWindow() {
        for (const char* prompt : {"", "a photo of a cat", "cat, dog"}) {
            for (auto syntax : {PromptSyntax::Plain, PromptSyntax::A1111}) {
                const auto chunked = ips::text::chunk_prompt(*tok, prompt, syntax);
                QCOMPARE(chunked.chunks.size(), std::size_t(1));
                QCOMPARE(chunked.chunks[0].input_ids, tok->tokenize(prompt).input_ids);
                QVERIFY(chunked.chunks[0].unweighted());
                QCOMPARE(chunked.dropped_tokens, 0);
            }
        }
    }

    void splitsAt75Tokens() {
        const auto chunked = a1111(repeat("cat", 80));
        QCOMPARE(chunked.chunks.size(), std::size_t(2));
        QCOMPARE(chunked.chunks[0].input_ids, window(times(cat, 75)));
        QCOMPARE(chunked.chunks[1].input_ids, window(times(cat, 5)));
        QCOMPARE(chunked.chunks[0].prompt_tokens, 75);
        QCOMPARE(chunked.chunks[1].prompt_tokens, 5);
        QCOMPARE(chunked.total_tokens, 80);
        // Exactly 75 tokens fit in one chunk; 150 in two.
        QCOMPARE(a1111(repeat("cat", 75)).chunks.size(), std::size_t(1));
        QCOMPARE(a1111(repeat("cat", 150)).chunks.size(), std::size_t(2));
        QCOMPARE(a1111(repeat("cat", 151)).chunks.size(), std::size_t(3));
    }

    void commaBackOff() {
        // A comma at index 70: when the 76th token arrives the chunk ends after the comma and the 4
        // tokens after it move to the next chunk.
        const auto near = a1111(repeat("cat", 70) + ", " + repeat("dog", 10));
        QCOMPARE(near.chunks.size(), std::size_t(2));
        QCOMPARE(near.chunks[0].input_ids, window(join({times(cat, 70), {comma}})));
        QCOMPARE(near.chunks[1].input_ids, window(times(dog, 10)));
        // The comma exactly 20 tokens from the end (index 55) still backs off; 21 (index 54) does
        // not.
        const auto at20 = a1111(repeat("cat", 55) + ", " + repeat("dog", 30));
        QCOMPARE(at20.chunks[0].input_ids, window(join({times(cat, 55), {comma}})));
        QCOMPARE(at20.chunks[1].input_ids, window(times(dog, 30)));
        const auto at21 = a1111(repeat("cat", 54) + ", " + repeat("dog", 30));
        QCOMPARE(at21.chunks[0].input_ids, window(join({times(cat, 54), {comma}, times(dog, 20)})));
        QCOMPARE(at21.chunks[1].input_ids, window(times(dog, 10)));
        // Back-off off (opts.comma_padding_backtrack = 0): a hard split at 75.
        const auto off = a1111(repeat("cat", 70) + ", " + repeat("dog", 10), 0);
        QCOMPARE(off.chunks[0].input_ids, window(join({times(cat, 70), {comma}, times(dog, 4)})));
        QCOMPARE(off.chunks[1].input_ids, window(times(dog, 6)));
        // A comma arriving when the chunk is full opens the next chunk (and is not remembered
        // there).
        const auto full = a1111(repeat("cat", 75) + ", " + repeat("dog", 3));
        QCOMPARE(full.chunks[1].input_ids, window(join({{comma}, times(dog, 3)})));
    }

    void weightsFollowTheTokens() {
        const auto chunked = a1111("a (cat:1.5) [dog] cat");
        QCOMPARE(chunked.chunks.size(), std::size_t(1));
        const auto& c = chunked.chunks[0];
        const auto a = tok->encode("a").front();
        QCOMPARE(c.input_ids, window({a, cat, dog, cat}));
        std::vector<float> expected(77, 1.0f);
        expected[2] = 1.5f;
        expected[3] = static_cast<float>(1 / 1.1);
        QCOMPARE(c.weights, expected);
        // Tokens moved by the comma back-off keep their weights.
        const auto moved = a1111(repeat("cat", 70) + ", (" + repeat("dog", 6) + ":1.5)");
        QCOMPARE(moved.chunks.size(), std::size_t(2));
        QCOMPARE(moved.chunks[1].input_ids, window(times(dog, 6)));
        QVERIFY(moved.chunks[0].unweighted());
        std::vector<float> moved_weights(77, 1.0f);
        std::fill(moved_weights.begin() + 1, moved_weights.begin() + 7, 1.5f);
        QCOMPARE(moved.chunks[1].weights, moved_weights);
    }

    void breakPadsTheChunk() {
        const auto chunked = a1111("cat BREAK dog dog");
        QCOMPARE(chunked.chunks.size(), std::size_t(2));
        QCOMPARE(chunked.chunks[0].input_ids, window({cat}));
        QCOMPARE(chunked.chunks[1].input_ids, window({dog, dog}));
        // A leading BREAK closes an empty chunk; a trailing one adds nothing.
        QCOMPARE(a1111("BREAK cat").chunks.size(), std::size_t(2));
        QCOMPARE(a1111("BREAK cat").chunks[0].input_ids, window({}));
        QCOMPARE(a1111("cat BREAK").chunks.size(), std::size_t(1));
        // The chunk a BREAK closes at 75 tokens is one chunk, not two.
        QCOMPARE(a1111(repeat("cat", 75) + " BREAK dog").chunks.size(), std::size_t(2));
    }

    void emptyPromptIsOneChunk() {
        const auto chunked = a1111("");
        QCOMPARE(chunked.chunks.size(), std::size_t(1));
        QCOMPARE(chunked.chunks[0].input_ids, window({}));
        QCOMPARE(chunked.chunks[0].input_ids, ips::text::empty_chunk(*tok).input_ids);
    }

    void negativePaddedToTheSameChunkCount() {
        auto prompt = a1111(repeat("cat", 160));
        auto negative = a1111("dog");
        QCOMPARE(prompt.chunks.size(), std::size_t(3));
        ips::text::pad_to_same_chunk_count(*tok, prompt, negative);
        QCOMPARE(negative.chunks.size(), std::size_t(3));
        QCOMPARE(negative.chunks[0].input_ids, window({dog}));
        QCOMPARE(negative.chunks[1].input_ids, window({}));
        QCOMPARE(negative.chunks[2].input_ids, window({}));
        QVERIFY(negative.chunks[2].unweighted());
        // And the other way round.
        auto short_prompt = a1111("cat");
        auto long_negative = a1111(repeat("dog", 100));
        ips::text::pad_to_same_chunk_count(*tok, short_prompt, long_negative);
        QCOMPARE(short_prompt.chunks.size(), std::size_t(2));
        QCOMPARE(short_prompt.chunks[1].input_ids, window({}));
    }

    void paddingUsesThePadTokenAfterEos() {
        // SD2-style tokenizer whose pad token differs from EOS: BOS, tokens, EOS, then pad (A1111
        // pads with EOS and then replaces everything after the first EOS with the pad token: the
        // same layout).
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        ipstest::writeSd2Tokenizer(folder);
        const auto sd2 = ips::ClipTokenizer::from_folder(folder);
        const auto chunked = ips::text::chunk_prompt(sd2, repeat("cat", 80), PromptSyntax::A1111);
        const auto& second = chunked.chunks[1].input_ids;
        QCOMPARE(second[6], eos);
        QCOMPARE(second[7], sd2.pad_token_id());
        QCOMPARE(second[76], sd2.pad_token_id());
        QCOMPARE(ips::text::empty_chunk(sd2).input_ids, sd2.tokenize("").input_ids);
    }

    // --- Token counts (the public API the UI calls). ---
    void plainCountsDroppedTokens() {
        const std::string prompt = repeat("cat", 91);  // 93 tokens with BOS and EOS
        const auto plain = ips::count_prompt_tokens(*tok, prompt, PromptSyntax::Plain);
        QCOMPARE(plain.total_tokens, 91);
        QCOMPARE(plain.dropped_tokens, 16);
        QCOMPARE(plain.chunk_tokens, std::vector<int>{75});
        QCOMPARE(plain.window, 77);
        // The plain window is the tokenizer's truncated one.
        QCOMPARE(ips::text::chunk_prompt(*tok, prompt, PromptSyntax::Plain).chunks[0].input_ids,
                 tok->tokenize(prompt).input_ids);
        const auto a = ips::count_prompt_tokens(*tok, prompt, PromptSyntax::A1111);
        QCOMPARE(a.total_tokens, 91);
        QCOMPARE(a.dropped_tokens, 0);
        QCOMPARE(a.chunk_tokens, (std::vector<int>{75, 16}));
        QCOMPARE(
            ips::count_prompt_tokens(*tok, repeat("cat", 75), PromptSyntax::Plain).dropped_tokens,
            0);
        QCOMPARE(
            ips::count_prompt_tokens(*tok, repeat("cat", 76), PromptSyntax::Plain).dropped_tokens,
            1);
    }

    void syntaxNames() {
        QVERIFY(ips::parse_prompt_syntax("plain") == PromptSyntax::Plain);
        QVERIFY(ips::parse_prompt_syntax("a1111") == PromptSyntax::A1111);
        QVERIFY(!ips::parse_prompt_syntax("A1111"));
        QCOMPARE(std::string(ips::prompt_syntax_name(PromptSyntax::A1111)), std::string("a1111"));
        const std::string message =
            ipstest::inputErrorOf([] { ips::prompt_syntax_or_throw("compel"); });
        QVERIFY2(message.find("prompt_syntax") != std::string::npos &&
                     message.find("compel") != std::string::npos,
                 message.c_str());
    }

    void requestJsonField() {
        // Absent: plain (every older preset reads as before); written only when not plain.
        const auto plain = ips::parse_request_json(
            R"j({"schema": 1, "model": "m", "prompt": "(cat:1.2)"})j", "/tmp", "p.json");
        QCOMPARE(plain.prompt_syntax, std::string("plain"));
        QVERIFY(ips::request_to_json(plain, "/tmp").find("prompt_syntax") == std::string::npos);
        const auto a = ips::parse_request_json(
            R"({"schema": 1, "model": "m", "prompt_syntax": "a1111"})", "/tmp", "p.json");
        QCOMPARE(a.prompt_syntax, std::string("a1111"));
        const auto back =
            ips::parse_request_json(ips::request_to_json(a, "/tmp"), "/tmp", "again.json");
        QCOMPARE(back.prompt_syntax, std::string("a1111"));
        // The prompt is kept as typed, brackets and all, in the request and the PNG parameters.
        auto typed = a;
        typed.prompt = "a (((house:1.3)) BREAK [on]";
        QCOMPARE(
            ips::parse_request_json(ips::request_to_json(typed, "/tmp"), "/tmp", "t.json").prompt,
            typed.prompt);
        QVERIFY(ips::a1111_parameters(typed, 1).rfind(typed.prompt + "\n", 0) == 0);
        const std::string wrong_type = ipstest::inputErrorOf([] {
            ips::parse_request_json(R"({"schema": 1, "model": "m", "prompt_syntax": 3})", "/tmp",
                                    "p.json");
        });
        QVERIFY2(wrong_type.find("prompt_syntax") != std::string::npos, wrong_type.c_str());
    }

    void longPromptIsFast() {
        std::string prompt;
        for (int i = 0; prompt.size() < 5000; ++i)
            prompt += (i % 7 == 3    ? "((a red house:1.2)), "
                       : i % 11 == 5 ? "[blurry] BREAK "
                                     : "a photo of a cat, ");
        QElapsedTimer timer;
        timer.start();
        const auto chunked = a1111(prompt);
        const qint64 ms = timer.elapsed();
        QVERIFY2(ms < 2000, qPrintable(QString("%1 ms").arg(ms)));
        QVERIFY(chunked.chunks.size() > 15);
        int sum = 0;
        for (const auto& c : chunked.chunks) {
            QCOMPARE(c.input_ids.size(), std::size_t(77));
            QCOMPARE(c.weights.size(), std::size_t(77));
            QCOMPARE(c.input_ids.front(), bos);
            QVERIFY(c.prompt_tokens <= 75);
            QCOMPARE(c.input_ids[static_cast<std::size_t>(c.prompt_tokens) + 1], eos);
            sum += c.prompt_tokens;
        }
        QCOMPARE(sum, chunked.total_tokens);
        const auto count = ips::count_prompt_tokens(*tok, prompt, PromptSyntax::A1111);
        QCOMPARE(count.chunk_tokens.size(), chunked.chunks.size());
    }

    void unbalancedPromptsChunk() {
        // Stray closing brackets are tokens of the text; an unclosed bracket weights the rest.
        const auto stray = a1111("cat)) dog]");
        QCOMPARE(stray.chunks[0].input_ids, tok->tokenize("cat)) dog]").input_ids);
        QVERIFY(stray.chunks[0].unweighted());
        const auto open = a1111("cat ((dog");
        QCOMPARE(open.chunks[0].input_ids, window({cat, dog}));
        QCOMPARE(open.chunks[0].weights[1], 1.0f);
        QCOMPARE(open.chunks[0].weights[2], static_cast<float>(1.1 * 1.1));
    }
};

QTEST_GUILESS_MAIN(TestPromptSyntax)
#include "test_prompt_syntax.moc"
