#pragma once
// Hand-built PNG bytes for tests of header checks: a file that claims any size without holding pixels.
#include <QByteArray>
#include <QtEndian>

namespace ipstest {

inline quint32 pngCrc32(const QByteArray& data) {
    quint32 crc = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
        crc ^= byte;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

inline QByteArray pngChunk(const char* type, const QByteArray& payload) {
    QByteArray out(4, '\0');
    qToBigEndian<quint32>(payload.size(), out.data());
    const QByteArray body = QByteArray(type) + payload;
    QByteArray crc(4, '\0');
    qToBigEndian<quint32>(pngCrc32(body), crc.data());
    return out + body + crc;
}

// A PNG whose header claims width x height (the pixel data is absent: only the header is read).
inline QByteArray pngHeader(quint32 width, quint32 height) {
    QByteArray ihdr(13, '\0');
    qToBigEndian<quint32>(width, ihdr.data());
    qToBigEndian<quint32>(height, ihdr.data() + 4);
    ihdr[8] = 8;  // bit depth
    ihdr[9] = 2;  // RGB
    // An empty zlib stream as image data: never inflated, only the header is read.
    return QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr) +
           pngChunk("IDAT", QByteArray("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + pngChunk("IEND", {});
}

}  // namespace ipstest
