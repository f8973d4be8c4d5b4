#include "io/TorchSave.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/types.h>

namespace biasscope::io {

namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
    enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Tensor, Mark } kind = None;
    std::int64_t i = 0;
    double f = 0;
    std::string s;  // Str; Global: "module.name"
    std::vector<ValuePtr> items;
    std::vector<std::pair<ValuePtr, ValuePtr>> dict;
    at::Tensor tensor;
};

ValuePtr makeValue(Value::Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
}

class Unpickler {
public:
    Unpickler(std::string path, caffe2::serialize::PyTorchStreamReader& reader, const char* data, std::size_t size)
        : path_(std::move(path)), reader_(reader), p_(data), end_(data + size), begin_(data) {}
    Unpickler(const Unpickler&) = delete;
    Unpickler& operator=(const Unpickler&) = delete;
    // A pickle can put a container into itself (memo GET, then APPEND / SETITEM): shared_ptr cycles. Every
    // value made here is unlinked when the unpickler goes, so no input leaks (found by fuzz_torch_pth).
    ~Unpickler() {
        for (const auto& v : made_) {
            v->items.clear();
            v->dict.clear();
        }
    }

    ValuePtr run() {
        while (p_ < end_) {
            const auto op = static_cast<unsigned char>(*p_++);
            switch (op) {
                case 0x80: need(1), ++p_; break;                      // PROTO
                case 0x95: need(8), p_ += 8; break;                   // FRAME
                case '.': return pop();                               // STOP
                case '(': push(make(Value::Mark)); break;             // MARK
                case 'N': push(make(Value::None)); break;
                case 0x88: case 0x89: {                               // NEWTRUE / NEWFALSE
                    auto v = make(Value::Bool);
                    v->i = op == 0x88;
                    push(v);
                    break;
                }
                case 'K': pushInt(u(1)); break;                       // BININT1
                case 'M': pushInt(u(2)); break;                       // BININT2
                case 'J': pushInt(static_cast<std::int32_t>(u(4))); break;  // BININT
                case 0x8a: {                                          // LONG1
                    const std::size_t n = u(1);
                    need(n);
                    std::int64_t v = 0;
                    for (std::size_t b = 0; b < n && b < 8; ++b) v |= static_cast<std::int64_t>(static_cast<unsigned char>(p_[b])) << (8 * b);
                    if (n > 0 && n < 8 && (static_cast<unsigned char>(p_[n - 1]) & 0x80)) v -= std::int64_t{1} << (8 * n);
                    p_ += n;
                    pushInt(v);
                    break;
                }
                case 'G': {                                           // BINFLOAT, big-endian
                    need(8);
                    std::uint64_t bits = 0;
                    for (int b = 0; b < 8; ++b) bits = (bits << 8) | static_cast<unsigned char>(p_[b]);
                    p_ += 8;
                    auto v = make(Value::Float);
                    std::memcpy(&v->f, &bits, 8);
                    push(v);
                    break;
                }
                case 'X': pushStr(u(4)); break;                       // BINUNICODE
                case 0x8c: pushStr(u(1)); break;                      // SHORT_BINUNICODE
                case 'U': pushStr(u(1)); break;                       // SHORT_BINSTRING
                case 'T': pushStr(u(4)); break;                       // BINSTRING
                case 'c': {                                           // GLOBAL module\nname\n
                    const std::string module = line(), name = line();
                    auto v = make(Value::Global);
                    v->s = module + "." + name;
                    push(v);
                    break;
                }
                case 0x93: {                                          // STACK_GLOBAL
                    auto name = pop(), module = pop();
                    auto v = make(Value::Global);
                    v->s = module->s + "." + name->s;
                    push(v);
                    break;
                }
                case 'q': memo(u(1)); break;                          // BINPUT
                case 'r': memo(u(4)); break;                          // LONG_BINPUT
                case 0x94: memo(memo_.size()); break;                 // MEMOIZE
                case 'h': get(u(1)); break;                           // BINGET
                case 'j': get(u(4)); break;                           // LONG_BINGET
                case ')': push(make(Value::Tuple)); break;            // EMPTY_TUPLE
                case 't': {                                           // TUPLE
                    auto v = make(Value::Tuple);
                    v->items = popToMark();
                    push(v);
                    break;
                }
                case 0x85: case 0x86: case 0x87: {                    // TUPLE1..3
                    auto v = make(Value::Tuple);
                    v->items.resize(op - 0x84u);
                    for (auto it = v->items.rbegin(); it != v->items.rend(); ++it) *it = pop();
                    push(v);
                    break;
                }
                case ']': push(make(Value::List)); break;             // EMPTY_LIST
                case 'a': {                                           // APPEND
                    auto x = pop();
                    top(Value::List, "APPEND")->items.push_back(x);
                    break;
                }
                case 'e': {                                           // APPENDS
                    auto xs = popToMark();
                    auto l = top(Value::List, "APPENDS");
                    l->items.insert(l->items.end(), xs.begin(), xs.end());
                    break;
                }
                case '}': push(make(Value::Dict)); break;             // EMPTY_DICT
                case 's': {                                           // SETITEM
                    auto v = pop(), k = pop();
                    top(Value::Dict, "SETITEM")->dict.emplace_back(k, v);
                    break;
                }
                case 'u': {                                           // SETITEMS
                    auto xs = popToMark();
                    auto d = top(Value::Dict, "SETITEMS");
                    for (std::size_t j = 0; j + 1 < xs.size(); j += 2) d->dict.emplace_back(xs[j], xs[j + 1]);
                    break;
                }
                case 'b': pop(); break;                               // BUILD: state (OrderedDict _metadata) is not needed
                case 'Q': persistent(); break;                        // BINPERSID
                case 'R': reduce(); break;                            // REDUCE
                case 0x81: {                                          // NEWOBJ: a class instance (e.g. a pickled nn.Module)
                    pop();
                    auto cls = pop();
                    fail("the file holds a pickled '" + (cls->kind == Value::Global ? cls->s : std::string("object")) +
                         "', not a state dict of tensors; in Python, save model.state_dict() (or export to safetensors)");
                }
                default:
                    fail("unsupported pickle opcode 0x" + hex(op) + " at byte " + std::to_string(p_ - begin_ - 1) +
                         " (the archive holds more than a state dict; save model.state_dict())");
            }
        }
        fail("pickle ends without STOP (truncated file?)");
    }

private:
    ValuePtr make(Value::Kind k) {
        made_.push_back(makeValue(k));
        return made_.back();
    }
    [[noreturn]] void fail(const std::string& what) const { throw TorchSaveError(path_ + ": " + what); }
    static std::string hex(unsigned v) {
        const char* d = "0123456789abcdef";
        return std::string{d[(v >> 4) & 15], d[v & 15]};
    }
    void need(std::size_t n) const {
        if (static_cast<std::size_t>(end_ - p_) < n) fail("pickle truncated at byte " + std::to_string(p_ - begin_));
    }
    std::size_t u(int bytes) {
        need(static_cast<std::size_t>(bytes));
        std::size_t v = 0;
        for (int b = 0; b < bytes; ++b) v |= static_cast<std::size_t>(static_cast<unsigned char>(p_[b])) << (8 * b);
        p_ += bytes;
        return v;
    }
    std::string line() {
        const char* nl = static_cast<const char*>(std::memchr(p_, '\n', static_cast<std::size_t>(end_ - p_)));
        if (!nl) fail("pickle truncated in a GLOBAL");
        std::string s(p_, nl);
        p_ = nl + 1;
        return s;
    }
    void push(ValuePtr v) { stack_.push_back(std::move(v)); }
    void pushInt(std::int64_t i) {
        auto v = make(Value::Int);
        v->i = i;
        push(v);
    }
    void pushStr(std::size_t n) {
        need(n);
        auto v = make(Value::Str);
        v->s.assign(p_, n);
        p_ += n;
        push(v);
    }
    ValuePtr pop() {
        if (stack_.empty()) fail("malformed pickle (stack underflow)");
        auto v = stack_.back();
        stack_.pop_back();
        return v;
    }
    ValuePtr top(Value::Kind k, const char* op) {
        if (stack_.empty() || stack_.back()->kind != k) fail(std::string("malformed pickle (") + op + " on the wrong type)");
        return stack_.back();
    }
    std::vector<ValuePtr> popToMark() {
        std::vector<ValuePtr> xs;
        while (true) {
            auto v = pop();
            if (v->kind == Value::Mark) break;
            xs.push_back(v);
        }
        return {xs.rbegin(), xs.rend()};
    }
    void memo(std::size_t i) {
        if (stack_.empty()) fail("malformed pickle (memo of an empty stack)");
        memo_[i] = stack_.back();
    }
    void get(std::size_t i) {
        auto it = memo_.find(i);
        if (it == memo_.end()) fail("malformed pickle (unknown memo " + std::to_string(i) + ")");
        push(it->second);
    }

    static c10::ScalarType storageType(const std::string& g) {
        static const std::map<std::string, c10::ScalarType> types{
            {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64}, {"torch.HalfStorage", torch::kFloat16},
            {"torch.BFloat16Storage", torch::kBFloat16}, {"torch.LongStorage", torch::kInt64}, {"torch.IntStorage", torch::kInt32},
            {"torch.ShortStorage", torch::kInt16}, {"torch.CharStorage", torch::kInt8}, {"torch.ByteStorage", torch::kUInt8},
            {"torch.BoolStorage", torch::kBool}, {"torch.UntypedStorage", torch::kUInt8}};
        auto it = types.find(g);
        return it == types.end() ? c10::ScalarType::Undefined : it->second;
    }

    void persistent() {  // ('storage', StorageType, key, location, numel)
        auto pid = pop();
        if (pid->kind != Value::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage" || pid->items[1]->kind != Value::Global)
            fail("unsupported persistent object (not a tensor storage)");
        const auto dtype = storageType(pid->items[1]->s);
        if (dtype == c10::ScalarType::Undefined) fail("unsupported storage type " + pid->items[1]->s);
        if (pid->items[2]->kind != Value::Str || pid->items[4]->kind != Value::Int) fail("malformed storage record (key or element count)");
        const std::string key = pid->items[2]->s;
        auto cached = storages_.find(key);
        if (cached == storages_.end()) {
            const std::int64_t numel = pid->items[4]->i;
            std::size_t bytes = 0;
            at::DataPtr data;
            try {
                std::tie(data, bytes) = reader_.getRecord("data/" + key);
            } catch (const std::exception& e) {
                fail("storage 'data/" + key + "' is missing or unreadable (truncated archive?)");
            }
            // compare before allocating: the element count is the file's word, the record's size is not
            const std::size_t elementSize = c10::elementSize(dtype);
            if (numel < 0 || static_cast<std::uint64_t>(numel) > bytes / elementSize || static_cast<std::size_t>(numel) * elementSize != bytes)
                fail("storage 'data/" + key + "' has " + std::to_string(bytes) + " bytes, expected " + std::to_string(numel) + " elements of " +
                     std::to_string(elementSize) + " bytes");
            at::Tensor t = torch::empty({numel}, dtype);
            if (bytes) std::memcpy(t.data_ptr(), data.get(), bytes);
            cached = storages_.emplace(key, t).first;
        }
        auto v = make(Value::Tensor);
        v->tensor = cached->second;
        push(v);
    }

    void reduce() {
        auto args = pop(), fn = pop();
        if (fn->kind != Value::Global || args->kind != Value::Tuple) fail("malformed pickle (REDUCE without a callable)");
        const std::string& g = fn->s;
        if (g == "collections.OrderedDict" || g == "builtins.dict") {
            push(make(Value::Dict));
        } else if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor") {
            const auto& a = args->items;
            if (a.size() < 4 || a[0]->kind != Value::Tensor || a[2]->kind != Value::Tuple || a[3]->kind != Value::Tuple)
                fail("malformed tensor record in the pickle");
            // the view (offset, size, stride) must lie inside its storage: every number whole and >= 0, as many
            // strides as sizes, and the extent computed without overflow
            if (a[1]->kind != Value::Int || a[1]->i < 0 || a[2]->items.size() != a[3]->items.size() || a[2]->items.size() > 64)
                fail("malformed tensor record in the pickle (offset, or sizes and strides of different lengths)");
            std::vector<std::int64_t> size, stride;
            for (const auto& x : a[2]->items) size.push_back(x->kind == Value::Int ? x->i : -1);
            for (const auto& x : a[3]->items) stride.push_back(x->kind == Value::Int ? x->i : -1);
            const bool negative = std::any_of(size.begin(), size.end(), [](std::int64_t v) { return v < 0; }) ||
                                  std::any_of(stride.begin(), stride.end(), [](std::int64_t v) { return v < 0; });
            if (negative) fail("malformed tensor record in the pickle (a size or stride is not a whole number >= 0)");
            const bool empty = std::any_of(size.begin(), size.end(), [](std::int64_t v) { return v == 0; });
            unsigned __int128 extent = static_cast<unsigned __int128>(a[1]->i) + 1, elements = 1;
            for (std::size_t d = 0; d < size.size(); ++d) {
                extent += static_cast<unsigned __int128>(size[d] ? size[d] - 1 : 0) * static_cast<unsigned __int128>(stride[d]);
                elements *= static_cast<unsigned __int128>(size[d]);
                if (extent > (static_cast<unsigned __int128>(1) << 62) || elements > (static_cast<unsigned __int128>(1) << 62))
                    fail("a tensor's view exceeds its storage (corrupt file?)");
            }
            if (!empty && extent > static_cast<unsigned __int128>(a[0]->tensor.numel())) fail("a tensor's view exceeds its storage (corrupt file?)");
            auto v = make(Value::Tensor);
            v->tensor = a[0]->tensor.as_strided(size, stride, a[1]->i).clone();
            push(v);
        } else if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
            if (args->items.empty() || args->items[0]->kind != Value::Tensor) fail("malformed parameter record in the pickle");
            push(args->items[0]);
        } else {
            fail("the file holds a pickled '" + g + "', not a state dict of tensors; in Python, save model.state_dict() (or export to safetensors)");
        }
    }

    std::string path_;
    caffe2::serialize::PyTorchStreamReader& reader_;
    const char* p_;
    const char* end_;
    const char* begin_;
    std::vector<ValuePtr> stack_;
    std::map<std::size_t, ValuePtr> memo_;
    std::map<std::string, at::Tensor> storages_;
    std::vector<ValuePtr> made_;
};

bool isTensorDict(const Value& v) {
    if (v.kind != Value::Dict || v.dict.empty()) return false;
    for (const auto& [k, x] : v.dict)
        if (k->kind != Value::Str || x->kind != Value::Tensor) return false;
    return true;
}

}  // namespace

std::map<std::string, at::Tensor> readTorchSaveStateDict(const std::string& path) {
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
    at::DataPtr pkl;
    std::size_t size = 0;
    try {
        reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
        std::tie(pkl, size) = reader->getRecord("data.pkl");
    } catch (const std::exception& e) {
        std::string what = e.what();
        what = what.substr(0, what.find('\n'));
        throw TorchSaveError(path + ": not a readable torch.save archive (truncated or corrupt?): " + what);
    }
    Unpickler u(path, *reader, static_cast<const char*>(pkl.get()), size);
    ValuePtr root = u.run();
    if (root->kind == Value::Dict && !isTensorDict(*root))
        for (const char* key : {"state_dict", "model_state_dict", "model"})
            for (const auto& [k, v] : root->dict)
                if (k->kind == Value::Str && k->s == key && isTensorDict(*v)) {
                    root = v;
                    goto found;
                }
found:
    if (root->kind != Value::Dict) throw TorchSaveError(path + ": the file does not hold a dict of tensors; save model.state_dict()");
    std::map<std::string, at::Tensor> out;
    for (const auto& [k, v] : root->dict) {
        if (k->kind != Value::Str) throw TorchSaveError(path + ": state dict keys must be strings");
        if (v->kind != Value::Tensor) throw TorchSaveError(path + ": entry '" + k->s + "' is not a tensor");
        out[k->s] = v->tensor;
    }
    if (out.empty()) throw TorchSaveError(path + ": the state dict is empty");
    return out;
}

}  // namespace biasscope::io
