#pragma once
// Shared by the parts of the configuration loader (config_loader*.cpp); not an
// API for anyone else. The loader is split by section only to keep each file
// readable.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/config/yaml_reader.h"

namespace sb::config::detail {

// Readers return nullopt after reporting a bad value; the default then stays.
template <class T>
void set(std::optional<T> value, T& out) {
  if (value) out = *value;
}
template <class T, class V>
void set_int(std::optional<std::int64_t> value, V& out) {
  if (value) out = static_cast<T>(*value);
}

// `body` is the value of the pool's name key: ctx empty, key `pool "NAME"`,
// key_mark the name's position. Always returns a pool named `name`, even when
// the body is unusable, so that references to it do not cause more errors.
PoolConfig load_pool(YamlReader& reader, const std::string& name, const Field& body);

// `pools` are the pools of the file for reference checks (pool names, and
// server names for MX/SRV records); nullptr when the `pools:` section itself
// was unusable, in which case references are not checked, since every one of
// them would be reported.
ListenerConfig load_listener(YamlReader& reader, const std::string& name, const Field& body,
                             const std::vector<PoolConfig>* pools);

}  // namespace sb::config::detail
