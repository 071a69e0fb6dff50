// Internal to the trainer library: the rules between config keys, shared by the loader
// (config.cc) and validate_config. Not part of the public API.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/config.h"

namespace rnnlab::trainer {

// Resolves "auto" values (data.dataset, data.format, train.early_stopping.goal) and checks
// config_rules(). Appends one message per broken rule to `errors`, prefixed by `where(key)`
// of the key at fault ("file:line: " of where it was set, or "file: ").
void check_config_rules(Config& config, const std::function<std::string(std::string_view)>& where,
                        std::vector<std::string>& errors);

}  // namespace rnnlab::trainer
