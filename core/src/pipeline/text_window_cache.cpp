#include "pipeline/text_window_cache.h"

namespace ips::pipeline {

std::string TextWindowCache::key(const std::string& encoder_state, const std::vector<std::int64_t>& input_ids, int clip_skip) {
    std::string k = encoder_state + "\x1f" + std::to_string(clip_skip) + "\x1f";
    k.append(reinterpret_cast<const char*>(input_ids.data()), input_ids.size() * sizeof(std::int64_t));
    return k;
}

at::Tensor TextWindowCache::find(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) return {};
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
}

void TextWindowCache::insert(const std::string& key, at::Tensor window) {
    if (const auto it = index_.find(key); it != index_.end()) {
        it->second->second = std::move(window);
        entries_.splice(entries_.begin(), entries_, it->second);
        return;
    }
    entries_.emplace_front(key, std::move(window));
    index_.emplace(key, entries_.begin());
    while (entries_.size() > capacity_) {
        index_.erase(entries_.back().first);
        entries_.pop_back();
    }
}

void TextWindowCache::clear() {
    entries_.clear();
    index_.clear();
}

}  // namespace ips::pipeline
