#pragma once
// The text encoder's output per 77-token window, kept across requests. Each window is its own CLIP pass (a
// long prompt is several), so an edit re-encodes only the windows whose tokens changed: typing in the prompt
// no longer re-encodes the unchanged negative prompt, nor a long prompt's untouched first windows.
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/ATen.h>

namespace ips::pipeline {

class TextWindowCache {
public:
    explicit TextWindowCache(std::size_t capacity = 64) : capacity_(capacity) {}

    // `encoder_state` names the text encoder's weights as they are (model, precision, merged LoRAs, added
    // embeddings); the entry is the encoder's [1, 77, C] output for these ids at this clip_skip.
    static std::string key(const std::string& encoder_state, const std::vector<std::int64_t>& input_ids, int clip_skip);
    at::Tensor find(const std::string& key);  // undefined when absent; a hit becomes the newest entry
    void insert(const std::string& key, at::Tensor window);  // the entry used longest ago goes when full
    void clear();
    std::size_t size() const { return entries_.size(); }

private:
    using Entry = std::pair<std::string, at::Tensor>;
    std::size_t capacity_;
    std::list<Entry> entries_;  // newest first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace ips::pipeline
