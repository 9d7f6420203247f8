#include "nn/layers/einsum.hpp"

#include "core/parallel.hpp"

#include <Eigen/Core>
#include <functional>
#include <map>
#include <set>

namespace luojia::nn::layers {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// An operand on its way through the contraction: values, labels, sizes.
struct Term {
  std::vector<float> values;
  std::vector<int> labels;
  Shape shape;
};

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out += c;
  return out;
}

// The term's values with axes in the order of `labels`, broadcast to `sizes` (an axis the term
// lacks, or has with size 1, is repeated).
std::vector<float> arrange(const Term& t, const std::vector<int>& labels, const Shape& sizes) {
  const auto own_strides = contiguous_strides(t.shape);
  std::vector<std::int64_t> strides(labels.size(), 0);
  for (std::size_t k = 0; k < labels.size(); ++k)
    for (std::size_t d = 0; d < t.labels.size(); ++d)
      if (t.labels[d] == labels[k] && t.shape[d] != 1) strides[k] = own_strides[d];
  const std::int64_t total = element_count(sizes);
  std::vector<float> out(static_cast<std::size_t>(total));
  if (total == 0) return out;
  std::vector<std::int64_t> at(sizes.size(), 0);
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < total; ++i) {
    out[static_cast<std::size_t>(i)] = t.values[static_cast<std::size_t>(offset)];
    for (std::size_t d = sizes.size(); d-- > 0;) {
      offset += strides[d];
      if (++at[d] < sizes[d]) break;
      offset -= strides[d] * at[d];
      at[d] = 0;
    }
  }
  return out;
}

// Sums the term over the labels for which keep() is false.
Term sum_out(const Term& t, const std::function<bool(int)>& keep) {
  Term r;
  std::vector<int> order;
  Shape sizes;
  for (std::size_t d = 0; d < t.labels.size(); ++d)
    if (keep(t.labels[d])) {
      r.labels.push_back(t.labels[d]);
      r.shape.push_back(t.shape[d]);
    }
  if (r.labels.size() == t.labels.size()) return t;
  // Kept axes first, summed ones last: then each output value sums one contiguous run.
  order = r.labels;
  sizes = r.shape;
  std::int64_t run = 1;
  for (std::size_t d = 0; d < t.labels.size(); ++d)
    if (!keep(t.labels[d])) {
      order.push_back(t.labels[d]);
      sizes.push_back(t.shape[d]);
      run *= t.shape[d];
    }
  const auto arranged = arrange(t, order, sizes);
  r.values.assign(static_cast<std::size_t>(element_count(r.shape)), 0.0f);
  for (std::size_t o = 0; o < r.values.size(); ++o) {
    double s = 0;
    for (std::int64_t i = 0; i < run; ++i) s += arranged[o * static_cast<std::size_t>(run) + static_cast<std::size_t>(i)];
    r.values[o] = static_cast<float>(s);
  }
  return r;
}

std::int64_t size_of(const std::map<int, std::int64_t>& sizes, int label) { return sizes.at(label); }

}  // namespace

Einsum::Einsum(const NodeInfo& node) : Layer(node) {
  const std::string equation = strip_spaces(node.attributes.get_string("equation", ""));
  const auto arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  explicit_output_ = arrow != std::string::npos;
  if (explicit_output_) output_ = equation.substr(arrow + 2);
  std::size_t start = 0;
  for (;;) {
    const auto comma = lhs.find(',', start);
    terms_.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& t : terms_) {
    std::string letters = t;
    if (const auto e = letters.find("..."); e != std::string::npos) letters.erase(e, 3);
    for (char c : letters)
      if (!std::isalpha(static_cast<unsigned char>(c))) fail("equation '" + equation + "' has '" + std::string(1, c) + "' in a term");
    std::set<char> seen(letters.begin(), letters.end());
    if (seen.size() != letters.size()) fail("a label repeated within one operand (a diagonal) in '" + equation + "' is not supported");
  }
}

Einsum::Labels Einsum::resolve(const std::vector<std::size_t>& ranks) const {
  if (ranks.size() != terms_.size())
    fail("the equation has " + std::to_string(terms_.size()) + " operands, the node " + std::to_string(ranks.size()));
  Labels l;
  std::size_t ellipsis_rank = 0;
  std::map<int, int> count;
  for (std::size_t k = 0; k < terms_.size(); ++k) {
    const std::string& t = terms_[k];
    const auto e = t.find("...");
    const std::size_t letters = t.size() - (e == std::string::npos ? 0 : 3);
    if (e == std::string::npos ? letters != ranks[k] : letters > ranks[k])
      fail("operand " + std::to_string(k) + " has rank " + std::to_string(ranks[k]) + ", its term '" + t + "' says otherwise");
    std::vector<int> labels;
    for (std::size_t i = 0; i < t.size();) {
      if (t.compare(i, 3, "...") == 0) {
        const std::size_t n = ranks[k] - letters;
        ellipsis_rank = std::max(ellipsis_rank, n);
        for (std::size_t j = n; j-- > 0;) labels.push_back(-1 - static_cast<int>(j));
        i += 3;
      } else {
        labels.push_back(static_cast<unsigned char>(t[i]));
        ++count[labels.back()];
        ++i;
      }
    }
    l.terms.push_back(labels);
  }
  if (explicit_output_) {
    for (std::size_t i = 0; i < output_.size();) {
      if (output_.compare(i, 3, "...") == 0) {
        for (std::size_t j = ellipsis_rank; j-- > 0;) l.output.push_back(-1 - static_cast<int>(j));
        i += 3;
      } else {
        const int c = static_cast<unsigned char>(output_[i++]);
        if (!count.count(c)) fail("output label '" + std::string(1, static_cast<char>(c)) + "' is in no operand");
        l.output.push_back(c);
      }
    }
  } else {
    // Implicit output: "..." then the labels seen once, alphabetically.
    for (std::size_t j = ellipsis_rank; j-- > 0;) l.output.push_back(-1 - static_cast<int>(j));
    for (const auto& [c, n] : count)
      if (n == 1) l.output.push_back(c);
  }
  return l;
}

std::vector<ValueInfo> Einsum::infer(const std::vector<ValueInfo>& in) const {
  std::vector<std::size_t> ranks;
  for (const auto& v : in) ranks.push_back(v.shape.size());
  const Labels l = resolve(ranks);
  std::map<int, std::int64_t> sizes;
  for (std::size_t k = 0; k < in.size(); ++k) {
    if (in[k].type != ElementType::Float32) fail("needs float operands");
    for (std::size_t d = 0; d < l.terms[k].size(); ++d) {
      const int label = l.terms[k][d];
      const std::int64_t n = in[k].shape[d];
      auto [it, fresh] = sizes.emplace(label, n);
      if (!fresh && it->second != n) {
        if (label >= 0 || (it->second != 1 && n != 1))
          fail("label sizes " + std::to_string(it->second) + " and " + std::to_string(n) + " differ");
        it->second = std::max(it->second, n);
      }
    }
  }
  Shape out;
  for (int label : l.output) out.push_back(sizes.at(label));
  return {ValueInfo{out, ElementType::Float32, std::nullopt, true}};
}

void Einsum::do_forward(std::span<const Tensor> in, std::span<Tensor> outputs) const {
  std::vector<std::size_t> ranks;
  for (const auto& t : in) ranks.push_back(static_cast<std::size_t>(t.rank()));
  const Labels l = resolve(ranks);
  std::map<int, std::int64_t> sizes;
  std::vector<Term> terms;
  for (std::size_t k = 0; k < in.size(); ++k) {
    Term t;
    t.values = in[k].to_floats();
    t.labels = l.terms[k];
    t.shape = in[k].shape();
    for (std::size_t d = 0; d < t.labels.size(); ++d) sizes[t.labels[d]] = std::max(sizes[t.labels[d]], t.shape[d]);
    terms.push_back(std::move(t));
  }
  const std::set<int> wanted(l.output.begin(), l.output.end());
  // Needed after term k: by the output or by a term after k.
  const auto needed_after = [&](std::size_t k, int label) {
    if (wanted.count(label)) return true;
    for (std::size_t j = k + 1; j < terms.size(); ++j)
      if (std::find(terms[j].labels.begin(), terms[j].labels.end(), label) != terms[j].labels.end()) return true;
    return false;
  };
  Term acc = sum_out(terms[0], [&](int label) {
    if (needed_after(0, label)) return true;
    return false;
  });
  for (std::size_t k = 1; k < terms.size(); ++k) {
    const Term b = sum_out(terms[k], [&](int label) {
      return needed_after(k, label) || std::find(acc.labels.begin(), acc.labels.end(), label) != acc.labels.end();
    });
    std::vector<int> batch, a_only, b_only, summed;
    for (int label : acc.labels) {
      const bool in_b = std::find(b.labels.begin(), b.labels.end(), label) != b.labels.end();
      if (!in_b) a_only.push_back(label);
      else if (needed_after(k, label)) batch.push_back(label);
      else summed.push_back(label);
    }
    for (int label : b.labels)
      if (std::find(acc.labels.begin(), acc.labels.end(), label) == acc.labels.end()) b_only.push_back(label);
    const auto dims = [&](const std::vector<int>& labels) {
      Shape s;
      for (int label : labels) s.push_back(size_of(sizes, label));
      return s;
    };
    const auto concat = [](std::vector<int> x, const std::vector<int>& y) {
      x.insert(x.end(), y.begin(), y.end());
      return x;
    };
    const std::int64_t nb = element_count(dims(batch)), m = element_count(dims(a_only)), n = element_count(dims(b_only)),
                       kk = element_count(dims(summed));
    const auto a_order = concat(concat(batch, a_only), summed), b_order = concat(concat(batch, summed), b_only);
    const auto av = arrange(acc, a_order, dims(a_order)), bv = arrange(b, b_order, dims(b_order));
    Term r;
    r.labels = concat(concat(batch, a_only), b_only);
    r.shape = dims(r.labels);
    r.values.assign(static_cast<std::size_t>(nb * m * n), 0.0f);
    luojia::detail::parallel_for(std::int64_t{0}, nb, [&](std::int64_t i) {
      Eigen::Map<const RowMatrix> am(av.data() + i * m * kk, m, kk), bm(bv.data() + i * kk * n, kk, n);
      Eigen::Map<RowMatrix>(r.values.data() + i * m * n, m, n).noalias() = am * bm;
    });
    acc = std::move(r);
  }
  acc = sum_out(acc, [&](int label) { return wanted.count(label) > 0; });
  const auto result = arrange(acc, l.output, outputs[0].shape());
  std::copy(result.begin(), result.end(), outputs[0].data());
}

Footprint Einsum::footprint() const {
  Footprint f = Footprint::combine({});
  f.every_axis_if_empty = true;
  return f;
}

}  // namespace luojia::nn::layers
