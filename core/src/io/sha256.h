#pragma once
// SHA-256 (FIPS 180-4) for the hashes other tools print: A1111's "Lora hashes" and model hashes. The
// engine has no Qt and no crypto library, and these hashes are identifiers, not security.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace ips::io {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view text) { update(text.data(), text.size()); }
    std::array<std::uint8_t, 32> digest();  // ends the hash
    std::string hex_digest();               // lowercase, 64 characters

private:
    void compress(const std::uint8_t* block);
    std::array<std::uint32_t, 8> state_;
    std::array<std::uint8_t, 64> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t length_ = 0;  // bytes
};

// The hash of the file's bytes from `offset` to the end. Throws InputError naming the file when unreadable.
std::string sha256_file(const std::filesystem::path& file, std::uint64_t offset = 0);

}  // namespace ips::io
