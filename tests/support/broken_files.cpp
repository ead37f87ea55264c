#include "broken_files.h"

#include "test_paths.h"

namespace ipstest {

std::string validSafetensors(const std::string& header_json, std::size_t data_bytes) {
    std::string out(8, '\0');
    const std::uint64_t len = header_json.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xFF);
    out += header_json;
    out += std::string(data_bytes, '\x01');
    return out;
}

std::vector<BrokenFile> makeBrokenFiles(const std::filesystem::path& folder) {
    std::vector<BrokenFile> files;
    auto add = [&](const std::string& what, const std::string& name, const std::string& bytes,
                   std::vector<std::string> mention) {
        const auto path = folder / name;
        writeBytes(path, bytes);
        mention.push_back(name);  // every message names the file
        files.push_back({what, path, std::move(mention)});
    };
    const std::string good_header =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})";
    const std::string real = readBytes(dataPath("tiny-ip-adapter/ip-adapter_sd15.safetensors"));
    const std::string real_bin = readBytes(dataPath("tiny-ip-adapter/ip-adapter_sd15.bin"));
    const std::string png = readBytes(dataPath("images/mask_128x128.png"));

    add("empty", "empty.safetensors", "", {"empty"});
    add("truncated header length", "short.safetensors", std::string("\x10\x00\x00", 3), {"too short"});
    add("header length larger than file", "hugeheader.safetensors",
        std::string("\x00\x10\x00\x00\x00\x00\x00\x00{}", 10), {"larger than the file"});
    add("header length absurd", "absurd.safetensors", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10), {"limit"});
    add("truncated data", "truncated.safetensors", real.substr(0, real.size() - 100), {"outside the data section"});
    add("invalid JSON", "badjson.safetensors", validSafetensors(R"({"a":{"dtype":"F32",)", 8), {"not valid JSON"});
    add("JSON not an object", "array.safetensors", validSafetensors("[1,2,3]", 0), {"JSON object"});
    add("unknown dtype", "dtype.safetensors",
        validSafetensors(R"({"a":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,8]}})", 8), {"unknown dtype", "F8_E9"});
    add("byte count mismatch", "count.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), {"does not match shape"});
    add("offsets overlap", "overlap.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
        {"overlap"});
    add("offsets outside file", "outside.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[1000,1008]}})", 8), {"outside the data section"});
    add("end before begin", "reversed.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), {"end before begin"});
    add("negative dimension", "negative.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), {"non-negative"});
    add("shape overflow", "overflow.safetensors",
        validSafetensors(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8),
        {"does not match shape"});
    add("metadata not strings", "meta.safetensors",
        validSafetensors(R"({"__metadata__":{"x":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
        {"__metadata__"});
    add("PNG image", "picture.safetensors", png, {"PNG image"});
    add("legacy pickle", "legacy.bin", std::string("\x80\x02\x8a\x0a" "lz\xfc\x9c" "F\xf9 j\xa8" "P\x19.", 16), {"legacy"});
    add("truncated zip checkpoint", "truncated.bin", real_bin.substr(0, real_bin.size() / 2), {"PyTorch checkpoint"});
    add("zip without a pickle", "other.zip.bin",
        std::string("PK\x03\x04", 4) + std::string(60, '\0'), {"PyTorch checkpoint"});
    add("random bytes", "noise.ckpt", std::string("\x13\x37\xca\xfe\xba\xbe\x00\x01\x02\x03\x04", 11), {"not a valid safetensors"});

    const auto dir = folder / "a folder.safetensors";
    std::filesystem::create_directories(dir);
    files.push_back({"directory", dir, {"is a directory", "a folder.safetensors"}});
    return files;
}

}  // namespace ipstest
