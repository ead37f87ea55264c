#include "io/pickle_reader.h"

#include <cstring>
#include <unordered_map>

#include "ips/errors.h"

namespace ips::io {
namespace {

using Kind = PickleValue::Kind;

// Bounds every collection so a hostile file cannot make the reader allocate without limit.
constexpr std::size_t kMaxStack = 1'000'000;

class Reader {
public:
    PickleDocument document;

    Reader(const std::uint8_t* data, std::size_t size, std::string file) : p_(data), end_(data + size), file_(std::move(file)) {}

    const PickleValue* run() {
        while (true) {
            const std::uint8_t op = byte();
            switch (op) {
                case 0x80: byte(); break;                             // PROTO
                case 0x95: bytes(8); break;                           // FRAME (protocol 4)
                case '.': return finish();                            // STOP
                case '(': marks_.push_back(stack_.size()); break;     // MARK
                case '}': push(make(Kind::Dict)); break;              // EMPTY_DICT
                case ']': push(make(Kind::List)); break;              // EMPTY_LIST
                case ')': push(make(Kind::Tuple)); break;             // EMPTY_TUPLE
                case 'N': push(make(Kind::None)); break;              // NONE
                case 0x88: push(boolean(true)); break;                // NEWTRUE
                case 0x89: push(boolean(false)); break;               // NEWFALSE
                case 'J': push(integer(signed_le(4))); break;         // BININT
                case 'K': push(integer(unsigned_le(1))); break;       // BININT1
                case 'M': push(integer(unsigned_le(2))); break;       // BININT2
                case 0x8a: push(long1()); break;                      // LONG1
                case 'G': push(binfloat()); break;                    // BINFLOAT
                case 'X': push(string(Kind::String, unsigned_le(4))); break;  // BINUNICODE
                case 0x8c: push(string(Kind::String, unsigned_le(1))); break; // SHORT_BINUNICODE
                case 'T': push(string(Kind::String, unsigned_le(4))); break;  // BINSTRING
                case 'U': push(string(Kind::String, unsigned_le(1))); break;  // SHORT_BINSTRING
                case 'B': push(string(Kind::Bytes, unsigned_le(4))); break;   // BINBYTES
                case 'C': push(string(Kind::Bytes, unsigned_le(1))); break;   // SHORT_BINBYTES
                case 'q': memo_[unsigned_le(1)] = top(); break;       // BINPUT
                case 'r': memo_[unsigned_le(4)] = top(); break;       // LONG_BINPUT
                case 0x94: memo_[memo_.size()] = top(); break;        // MEMOIZE
                case 'h': push(memo(unsigned_le(1))); break;          // BINGET
                case 'j': push(memo(unsigned_le(4))); break;          // LONG_BINGET
                case 'c': global(); break;                            // GLOBAL
                case 0x93: stack_global(); break;                     // STACK_GLOBAL
                case 't': tuple_from_mark(); break;                   // TUPLE
                case 0x85: tuple_of(1); break;                        // TUPLE1
                case 0x86: tuple_of(2); break;                        // TUPLE2
                case 0x87: tuple_of(3); break;                        // TUPLE3
                case 'a': append(); break;                            // APPEND
                case 'e': appends(); break;                           // APPENDS
                case 's': setitem(); break;                           // SETITEM
                case 'u': setitems(); break;                          // SETITEMS
                case 'R': reduce(); break;                            // REDUCE
                case 0x81: newobj(); break;                           // NEWOBJ
                case 'b': pop(); break;                               // BUILD: object state is never weights
                case 'Q': persistent_id(); break;                     // BINPERSID
                case '0': pop(); break;                               // POP
                case '2': push(top()); break;                         // DUP
                default: fail("unsupported pickle opcode 0x" + hex(op));
            }
        }
    }

private:
    PickleValuePtr make(Kind kind) {
        if (document.arena.size() >= kMaxStack) fail("too many pickle values");
        document.arena.push_back(std::make_unique<PickleValue>());
        document.arena.back()->kind = kind;
        return document.arena.back().get();
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw ModelLoadError(file_ + ": not a readable PyTorch checkpoint (" + what + ")");
    }
    static std::string hex(std::uint8_t v) {
        const char* digits = "0123456789abcdef";
        return {digits[v >> 4], digits[v & 15]};
    }

    std::uint8_t byte() {
        if (p_ >= end_) fail("pickle data ends early");
        return *p_++;
    }
    const std::uint8_t* bytes(std::size_t n) {
        if (static_cast<std::size_t>(end_ - p_) < n) fail("pickle data ends early");
        const auto* at = p_;
        p_ += n;
        return at;
    }
    std::uint64_t unsigned_le(int n) {
        const auto* b = bytes(n);
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
        return v;
    }
    std::int64_t signed_le(int n) {
        const std::uint64_t v = unsigned_le(n);
        const std::uint64_t sign = std::uint64_t(1) << (8 * n - 1);
        return static_cast<std::int64_t>((v ^ sign) - sign);
    }
    std::string line() {
        const auto* start = p_;
        while (p_ < end_ && *p_ != '\n') ++p_;
        if (p_ >= end_) fail("pickle data ends early");
        return std::string(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(p_++));
    }

    void push(PickleValuePtr v) {
        if (stack_.size() >= kMaxStack) fail("pickle stack too deep");
        stack_.push_back(v);
    }
    PickleValuePtr pop() {
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
        auto v = stack_.back();
        stack_.pop_back();
        return v;
    }
    PickleValuePtr top() const {
        if (stack_.empty()) fail("pickle stack underflow");
        return stack_.back();
    }
    std::vector<PickleValuePtr> pop_to_mark() {
        if (marks_.empty()) fail("pickle MARK missing");
        const std::size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<PickleValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
        stack_.resize(mark);
        return items;
    }
    PickleValuePtr memo(std::uint64_t index) const {
        auto it = memo_.find(index);
        if (it == memo_.end()) fail("pickle memo entry " + std::to_string(index) + " missing");
        return it->second;
    }

    PickleValuePtr boolean(bool b) {
        auto v = make(Kind::Bool);
        v->integer = b;
        return v;
    }
    PickleValuePtr integer(std::int64_t i) {
        auto v = make(Kind::Int);
        v->integer = i;
        return v;
    }
    PickleValuePtr long1() {
        const auto n = unsigned_le(1);
        if (n > 8) fail("integer wider than 64 bits");
        return integer(n == 0 ? 0 : signed_le(static_cast<int>(n)));
    }
    PickleValuePtr binfloat() {
        const auto* b = bytes(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];  // big-endian
        auto v = make(Kind::Float);
        std::memcpy(&v->number, &bits, sizeof bits);
        return v;
    }
    PickleValuePtr string(Kind kind, std::uint64_t n) {
        const auto* b = bytes(n);
        auto v = make(kind);
        v->text.assign(reinterpret_cast<const char*>(b), n);
        return v;
    }

    void global() {
        const std::string module = line();
        const std::string name = line();
        auto v = make(Kind::Global);
        v->text = module + "." + name;
        push(v);
    }
    void stack_global() {
        const auto name = pop();
        const auto module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
        auto v = make(Kind::Global);
        v->text = module->text + "." + name->text;
        push(v);
    }
    void tuple_from_mark() {
        auto v = make(Kind::Tuple);
        v->items = pop_to_mark();
        push(v);
    }
    void tuple_of(int n) {
        auto v = make(Kind::Tuple);
        v->items.resize(n);
        for (int i = n - 1; i >= 0; --i) v->items[i] = pop();
        push(v);
    }
    void append() {
        auto item = pop();
        const auto& list = top();
        if (list->kind == Kind::List) list->items.push_back(item);
    }
    void appends() {
        auto items = pop_to_mark();
        const auto& list = top();
        if (list->kind == Kind::List) list->items.insert(list->items.end(), items.begin(), items.end());
    }
    void setitem() {
        auto value = pop();
        auto key = pop();
        const auto& dict = top();
        if (dict->kind == Kind::Dict) dict->entries.emplace_back(key, value);
    }
    void setitems() {
        auto items = pop_to_mark();
        if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
        const auto& dict = top();
        if (dict->kind != Kind::Dict) return;
        for (std::size_t i = 0; i < items.size(); i += 2) dict->entries.emplace_back(items[i], items[i + 1]);
    }
    void newobj() {
        pop();  // args
        auto cls = pop();
        auto v = make(Kind::Opaque);
        v->text = cls->text;
        push(v);
    }
    void persistent_id() {
        const auto pid = pop();
        if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::String ||
            pid->items[0]->text != "storage" || pid->items[1]->kind != Kind::Global ||
            pid->items[2]->kind != Kind::String || pid->items[4]->kind != Kind::Int || pid->items[4]->integer < 0)
            fail("unexpected persistent id (expected a torch storage reference)");
        auto v = make(Kind::Storage);
        const std::string& type = pid->items[1]->text;
        v->storage.storage_type = type.substr(type.rfind('.') + 1);
        v->storage.key = pid->items[2]->text;
        v->storage.numel = pid->items[4]->integer;
        push(v);
    }
    std::vector<std::int64_t> int_tuple(const PickleValuePtr& v, const char* what) const {
        if (v->kind != Kind::Tuple) fail(std::string("tensor ") + what + " is not a tuple");
        std::vector<std::int64_t> out;
        for (const auto& item : v->items) {
            if (item->kind != Kind::Int) fail(std::string("tensor ") + what + " holds a non-integer");
            out.push_back(item->integer);
        }
        return out;
    }
    void reduce() {
        const auto args = pop();
        const auto callable = pop();
        if (args->kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
        const std::string& name = callable->text;
        if (callable->kind == Kind::Global &&
            (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")) {
            if (args->items.size() < 4 || args->items[0]->kind != Kind::Storage || args->items[1]->kind != Kind::Int)
                fail("malformed tensor record");
            auto v = make(Kind::Tensor);
            v->tensor.storage = args->items[0]->storage;
            v->tensor.storage_offset = args->items[1]->integer;
            v->tensor.size = int_tuple(args->items[2], "size");
            v->tensor.stride = int_tuple(args->items[3], "stride");
            if (v->tensor.size.size() != v->tensor.stride.size()) fail("tensor size and stride differ in length");
            push(v);
        } else if (callable->kind == Kind::Global && name == "torch._utils._rebuild_parameter") {
            if (args->items.empty() || args->items[0]->kind != Kind::Tensor) fail("malformed parameter record");
            push(args->items[0]);
        } else if (callable->kind == Kind::Global && name == "collections.OrderedDict") {
            push(make(Kind::Dict));
        } else {
            auto v = make(Kind::Opaque);
            v->text = name;
            push(v);
        }
    }
    const PickleValue* finish() {
        if (stack_.size() != 1) fail("pickle ends with " + std::to_string(stack_.size()) + " values on the stack");
        return stack_.back();
    }

    const std::uint8_t* p_;
    const std::uint8_t* end_;
    std::string file_;
    std::vector<PickleValuePtr> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint64_t, PickleValuePtr> memo_;
};

}  // namespace

PickleDocument read_torch_pickle(const std::uint8_t* data, std::size_t size, const std::string& file_name) {
    Reader reader(data, size, file_name);
    const PickleValue* root = reader.run();
    PickleDocument document = std::move(reader.document);
    document.root = root;
    return document;
}

}  // namespace ips::io
