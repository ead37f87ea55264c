// ClipTokenizer against transformers' CLIPTokenizer: every golden prompt, plus hand-checked behaviour.
#include <QtTest>

#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "ips/clip_tokenizer.h"
#include "ips/errors.h"
#include "test_paths.h"

using ipstest::dataPath;

class TestTokenizer : public QObject {
    Q_OBJECT
    std::optional<ips::ClipTokenizer> tok;

    std::int64_t vocabId(const std::string& token) {
        static const auto vocab = ips::io::read_json_file(dataPath("tiny-sd15/tokenizer/vocab.json"));
        return vocab.at(token).get<std::int64_t>();
    }

private Q_SLOTS:
    void initTestCase() { tok.emplace(ips::ClipTokenizer::from_folder(dataPath("tiny-sd15/tokenizer"))); }

    void specialTokensFromConfig() {
        QCOMPARE(tok->bos_token_id(), 49406);
        QCOMPARE(tok->eos_token_id(), 49407);
        QCOMPARE(tok->pad_token_id(), 49407);
        QCOMPARE(tok->max_length(), 77);
        QCOMPARE(tok->vocab_size(), std::size_t(49408));
    }

    void goldenCases() {
        const auto golden = ips::io::read_json_file(dataPath("golden/tokenizer.json"));
        const auto& cases = golden.at("cases");
        QCOMPARE(cases.size(), std::size_t(47));
        for (const auto& c : cases) {
            const auto text = c.at("text").get<std::string>();
            const auto result = tok->tokenize(text);
            const auto expected_ids = c.at("input_ids").get<std::vector<std::int64_t>>();
            const auto expected_mask = c.at("attention_mask").get<std::vector<std::int64_t>>();
            if (result.input_ids != expected_ids) QFAIL(("input_ids differ for: " + text).c_str());
            if (result.attention_mask != expected_mask) QFAIL(("attention_mask differs for: " + text).c_str());
            const auto untruncated = c.at("untruncated_ids").get<std::vector<std::int64_t>>();
            auto ids = tok->encode(text);
            ids.insert(ids.begin(), 49406);
            ids.push_back(49407);
            if (ids != untruncated) QFAIL(("untruncated ids differ for: " + text).c_str());
        }
    }

    void goldenTokensStrings() {
        // The BPE pieces themselves, not only their ids (golden pieces include BOS and EOS).
        const auto golden = ips::io::read_json_file(dataPath("golden/tokenizer.json"));
        for (const auto& c : golden.at("cases")) {
            const auto expected = c.at("tokens").get<std::vector<std::string>>();
            auto pieces = tok->bpe_tokens(c.at("text").get<std::string>());
            pieces.insert(pieces.begin(), "<|startoftext|>");
            pieces.push_back("<|endoftext|>");
            QCOMPARE(pieces, expected);
        }
    }

    void wordsAndPunctuation() {
        // Hand-checked against the vocabulary: "a" and "photo" are whole words, "!" a separate piece.
        const auto ids = tok->encode("A photo!");
        const std::vector<std::int64_t> expected = {vocabId("a</w>"), vocabId("photo</w>"), vocabId("!</w>")};
        QCOMPARE(ids, expected);
        // Case and surrounding whitespace do not matter.
        QCOMPARE(tok->encode("  a\tPHOTO\n!  "), expected);
    }

    void contractionsSplit() {
        QCOMPARE(tok->encode("it's"), (std::vector<std::int64_t>{vocabId("it</w>"), vocabId("'s</w>")}));
    }

    void controlCharactersAndNulAreDropped() {
        const std::string with_nul("a\0b", 3);
        QCOMPARE(tok->encode(with_nul), tok->encode("ab"));
        QCOMPARE(tok->encode("a\x07photo"), tok->encode("aphoto"));
        QCOMPARE(tok->encode("a\xE2\x80\x8Bphoto"), tok->encode("aphoto"));  // zero-width space (Cf)
    }

    void invalidUtf8IsDroppedLikeReplacementCharacter() {
        // Invalid bytes decode to U+FFFD, which the clean-up removes.
        QCOMPARE(tok->encode("a\xFF\xFEphoto"), tok->encode("aphoto"));
    }

    void decomposedAccentsEqualComposed() {
        // NFC: "e" + combining acute equals the precomposed "é".
        QCOMPARE(tok->encode("cafe\xCC\x81"), tok->encode("caf\xC3\xA9"));
    }

    void specialTokenTextIsKept() {
        const auto ids = tok->encode("a<|endoftext|>b");
        QCOMPARE(ids, (std::vector<std::int64_t>{vocabId("a</w>"), 49407, vocabId("b</w>")}));
    }

    void truncationKeepsBosAndEos() {
        std::string long_text;
        for (int i = 0; i < 200; ++i) long_text += "photo ";
        const auto r = tok->tokenize(long_text);
        QCOMPARE(r.input_ids.size(), std::size_t(77));
        QCOMPARE(r.input_ids.front(), 49406);
        QCOMPARE(r.input_ids.back(), 49407);
        QCOMPARE(r.input_ids[75], vocabId("photo</w>"));
        QCOMPARE(std::count(r.attention_mask.begin(), r.attention_mask.end(), 1), 77);
    }

    void emptyPromptIsBosEosPadding() {
        const auto r = tok->tokenize("");
        QCOMPARE(r.input_ids[0], 49406);
        QCOMPARE(r.input_ids[1], 49407);
        QCOMPARE(std::count(r.attention_mask.begin(), r.attention_mask.end(), 1), 2);
    }

    void padTokenFollowsSpecialTokensMap() {
        // SD2's tokenizer pads with "!" (id 0) instead of <|endoftext|>.
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        ipstest::writeSd2Tokenizer(folder);
        const auto sd2 = ips::ClipTokenizer::from_folder(folder);
        QCOMPARE(sd2.pad_token_id(), vocabId("!"));
        const auto r = sd2.tokenize("a photo");
        QCOMPARE(r.input_ids[4], vocabId("!"));
        QCOMPARE(r.attention_mask[4], 0);
    }

    void missingFilesNameTheFile() {
        QTemporaryDir dir;
        try {
            ips::ClipTokenizer::from_folder(dir.path().toStdString());
            QFAIL("expected ModelLoadError");
        } catch (const ips::ModelLoadError& e) {
            QVERIFY(std::string(e.what()).find("vocab.json") != std::string::npos);
        }
        ipstest::writeBytes(std::filesystem::path(dir.path().toStdString()) / "vocab.json", R"({"a": 1, "b": 2})");
        ipstest::writeBytes(std::filesystem::path(dir.path().toStdString()) / "merges.txt", "#version: 0.2\nnot-a-pair\n");
        try {
            ips::ClipTokenizer::from_folder(dir.path().toStdString());
            QFAIL("expected ModelLoadError");
        } catch (const ips::ModelLoadError& e) {
            QVERIFY(std::string(e.what()).find("merges.txt") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
