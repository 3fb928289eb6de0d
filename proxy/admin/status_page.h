#pragma once
// GET / on the admin listener: one HTML page that lists every pool and
// server from /status, refreshes itself, and drains or enables servers
// through the admin API. Its source is status_page.html.

#include <string_view>

namespace sb::runtime {

std::string_view status_page_html();

}  // namespace sb::runtime
