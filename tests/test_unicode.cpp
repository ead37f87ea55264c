// Python-compatible Unicode helpers, against hand-computed results from the Unicode standard.
#include <QtTest>

#include "text/unicode.h"

using namespace ips::unicode;

class TestUnicode : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void utf8RoundTrip() {
        const std::string text = "caf\xC3\xA9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x98\x80";
        const auto decoded = decode_utf8(text);
        QCOMPARE(decoded, (std::u32string{U'c', U'a', U'f', 0xE9, U' ', 0x6771, 0x4EAC, U' ', 0x1F600}));
        QCOMPARE(encode_utf8(decoded), text);
    }

    void invalidUtf8BecomesReplacement() {
        QCOMPARE(decode_utf8("\xFF"), std::u32string(1, 0xFFFD));
        QCOMPARE(decode_utf8("\xC3"), std::u32string(1, 0xFFFD));           // truncated sequence
        QCOMPARE(decode_utf8("\xC0\xAF"), std::u32string(2, 0xFFFD));       // overlong
        QCOMPARE(decode_utf8("\xED\xA0\x80"), std::u32string(3, 0xFFFD));   // surrogate
    }

    void categories() {
        QVERIFY(is_letter(U'a') && is_letter(0x6771) && !is_letter(U'1'));
        QVERIFY(is_number(U'7') && is_number(0x00BD) && is_number(0x2167));  // '7', '½', 'Ⅷ'
        QVERIFY(is_other(0x07) && is_other(0x200B) && !is_other(U'a'));
        QVERIFY(is_space_separator(0x3000) && is_space_separator(0xA0) && !is_space_separator(U'\t'));
        QVERIFY(is_python_space(U'\t') && is_python_space(0x2028) && is_python_space(0x1C) && !is_python_space(0x200B));
    }

    void lowerFullMappings() {
        QCOMPARE(to_lower(U"ABC\u00C9"), std::u32string(U"abc\u00E9"));
        QCOMPARE(to_lower(U"\u0130"), std::u32string(U"i\u0307"));  // İ lowers to two code points
        QCOMPARE(to_lower(U"\u1E9E"), std::u32string(U"\u00DF"));   // capital sharp s
    }

    void finalSigma() {
        QCOMPARE(to_lower(U"\u039F\u0394\u039F\u03A3"), std::u32string(U"\u03BF\u03B4\u03BF\u03C2"));  // ΟΔΟΣ -> οδος
        QCOMPARE(to_lower(U"\u03A3"), std::u32string(U"\u03C3"));                   // alone: not final
        QCOMPARE(to_lower(U"\u03A3A"), std::u32string(U"\u03C3a"));                 // word start
        QCOMPARE(to_lower(U"A\u03A3'"), std::u32string(U"a\u03C2'"));              // apostrophe is case-ignorable
        QCOMPARE(to_lower(U"A\u03A3's"), std::u32string(U"a\u03C3's"));            // ...so "s" follows
    }

    void nfcComposes() {
        QCOMPARE(nfc(U"e\u0301"), std::u32string(U"\u00E9"));
        QCOMPARE(nfc(U"\u1100\u1161\u11A8"), std::u32string(U"\uAC01"));  // Hangul L V T -> 각
        // Canonical reordering: both orders of dot-below and circumflex compose to U+1EAD.
        QCOMPARE(nfc(U"a\u0323\u0302"), std::u32string(U"\u1EAD"));
        QCOMPARE(nfc(U"a\u0302\u0323"), std::u32string(U"\u1EAD"));
    }

    void nfcRespectsExclusionsAndSingletons() {
        QCOMPARE(nfc(U"\u0958"), std::u32string(U"\u0915\u093C"));  // composition exclusion
        QCOMPARE(nfc(U"\u212B"), std::u32string(U"\u00C5"));        // Angstrom sign -> Å (singleton)
        QCOMPARE(nfc(U"\u00C5"), std::u32string(U"\u00C5"));        // already NFC
    }

    void nfcBlockedByStarter() {
        // A combining mark after an intervening starter stays uncomposed with the first letter.
        QCOMPARE(nfc(U"ab\u0301"), std::u32string(U"a\u0062\u0301"));
    }
};

QTEST_GUILESS_MAIN(TestUnicode)
#include "test_unicode.moc"
