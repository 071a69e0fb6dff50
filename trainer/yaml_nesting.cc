// The nesting bound of trainer/yaml_nesting.h: parse, then walk the tree without recursion.
#include "trainer/yaml_nesting.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace rnnlab::trainer {
namespace {

std::string place(const std::string& source, bool with_line, int line) {
  return with_line ? source + ":" + std::to_string(line + 1) + ": " : source + ": ";
}

[[noreturn]] void too_deep(const std::string& source, bool with_line, int line) {
  throw std::invalid_argument(place(source, with_line, line) + "nesting deeper than " +
                              std::to_string(kMaxYamlNesting) + " levels");
}

}  // namespace

void check_yaml_nesting(const std::string& yaml_text, const std::string& source, bool with_line) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::DeepRecursion& error) {
    too_deep(source, with_line, error.mark.line);  // yaml-cpp's own bound (500), "bad file"
  } catch (const YAML::Exception&) {
    return;  // malformed: the caller's parse says where and why
  }
  // Without aliases every node is at least one character of the text; with them a small
  // file can stand for an exponential tree ("billion laughs"), which this walk would follow.
  const size_t max_visits = 4 * yaml_text.size() + 10000;
  size_t visits = 0;
  std::vector<std::pair<YAML::Node, int>> pending{{root, 0}};
  while (!pending.empty()) {
    const auto [node, depth] = std::move(pending.back());
    pending.pop_back();
    if (++visits > max_visits) {
      throw std::invalid_argument(place(source, false, 0) + "aliases expand to more than " +
                                  std::to_string(max_visits) + " nodes");
    }
    if (!node.IsMap() && !node.IsSequence()) continue;
    if (depth + 1 > kMaxYamlNesting) too_deep(source, with_line, node.Mark().line);
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (node.IsMap()) {
        pending.emplace_back(it->first, depth + 1);
        pending.emplace_back(it->second, depth + 1);
      } else {
        pending.emplace_back(*it, depth + 1);
      }
    }
  }
}

}  // namespace rnnlab::trainer
