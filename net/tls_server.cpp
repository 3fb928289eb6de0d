#include "net/tls_server.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace sb::net {

namespace asio = boost::asio;

// What the SNI and ALPN callbacks read during handshakes. It owns the
// contexts: ServerTls hands out aliasing pointers to them, so a connection
// still holding its context (after a reload dropped the ServerTls) keeps
// everything its callbacks reach alive.
struct ServerTls::Impl {
  std::vector<std::unique_ptr<asio::ssl::context>> contexts;
  std::vector<std::vector<std::string>> names;  // per context, lower case
  std::vector<std::string> alpn;                // server preference order
};

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// OpenSSL's reasons for the last failure, oldest first ("No such file or
// directory; PEM lib"), and the error queue emptied.
std::string openssl_reasons() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::string reason;
    if (ERR_SYSTEM_ERROR(e)) {
      reason = std::strerror(ERR_GET_REASON(e));  // "No such file or directory"
    } else if (const char* r = ERR_reason_error_string(e)) {
      reason = r;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
    if (reason == "system lib") continue;  // says only that the one before was an errno
    if (lower(out).find(lower(reason)) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? "unknown error" : out;
}

// subjectAltName DNS entries, else the subject's CN.
std::vector<std::string> certificate_names(X509* cert) {
  std::vector<std::string> names;
  if (!cert) return names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const ASN1_IA5STRING* dns = n->d.dNSName;
      names.push_back(
          lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<std::size_t>(ASN1_STRING_length(dns)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    names.push_back(lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                                           static_cast<std::size_t>(ASN1_STRING_length(cn)))));
  }
  return names;
}

// The index of the context for `name`: an exact name, then the `*.` wildcard
// of its parent (a.b.c: *.b.c), then the first.
std::size_t choose(const ServerTls::Impl& impl, const std::string& name) {
  for (std::size_t i = 0; i < impl.names.size(); ++i) {
    for (const auto& n : impl.names[i]) {
      if (n == name) return i;
    }
  }
  auto dot = name.find('.');
  if (dot != std::string::npos && dot > 0) {
    std::string wildcard = "*" + name.substr(dot);
    for (std::size_t i = 0; i < impl.names.size(); ++i) {
      for (const auto& n : impl.names[i]) {
        if (n == wildcard) return i;
      }
    }
  }
  return 0;
}

int on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  const auto& impl = *static_cast<const ServerTls::Impl*>(arg);
  const char* sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!sent) return SSL_TLSEXT_ERR_NOACK;  // no SNI: the first certificate
  SSL_CTX* ctx = impl.contexts[choose(impl, lower(sent))]->native_handle();
  if (ctx == SSL_get_SSL_CTX(ssl)) return SSL_TLSEXT_ERR_OK;
  SSL_set_SSL_CTX(ssl, ctx);
  // SSL_set_SSL_CTX swaps the certificate only; the connection keeps the
  // verification and options it was created with. Take the new context's, as
  // nginx does, so that every context's settings hold for its connections.
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
  SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx));
  SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  return SSL_TLSEXT_ERR_OK;
}

int on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* arg) {
  const auto& impl = *static_cast<const ServerTls::Impl*>(arg);
  for (const auto& mine : impl.alpn) {
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) break;  // malformed list: nothing past it
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == mine) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  // Nothing in common: go on without ALPN rather than fail the handshake
  // (the client then speaks HTTP/1.1, the default).
  return SSL_TLSEXT_ERR_NOACK;
}

// Never prompts: an encrypted key on a terminal would otherwise block
// loading on a password prompt. Encrypted keys are refused.
int no_password(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return 0;
}

}  // namespace

std::shared_ptr<ServerTls> ServerTls::load(const TlsServerSettings& settings, std::string& why) {
  if (settings.certificates.empty()) {
    why = "tls: no certificate";
    return nullptr;
  }
  int min_version = 0;
  if (settings.min_version == "1.2") {
    min_version = TLS1_2_VERSION;
  } else if (settings.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    why = fmt::format("tls: min-version \"{}\" is not \"1.2\" or \"1.3\"", settings.min_version);
    return nullptr;
  }
  using Verify = TlsServerSettings::VerifyClient;
  if (settings.verify_client != Verify::none && settings.client_ca.empty()) {
    why = "tls: verify-client needs client-ca";
    return nullptr;
  }
  for (const auto& p : settings.alpn) {
    if (p.empty() || p.size() > 255) {
      why = fmt::format("tls: alpn \"{}\" must be 1 to 255 bytes", p);
      return nullptr;
    }
  }
  // Session ids carry at most 32 bytes of context (SSL_MAX_SID_CTX_LENGTH);
  // listener names can be longer, so the context is their SHA-256.
  unsigned char sid_ctx[EVP_MAX_MD_SIZE];
  unsigned int sid_len = 0;
  if (!EVP_Digest(settings.session_context.data(), settings.session_context.size(), sid_ctx,
                  &sid_len, EVP_sha256(), nullptr)) {
    why = fmt::format("tls: session context: {}", openssl_reasons());
    return nullptr;
  }

  auto impl = std::make_shared<Impl>();
  impl->alpn = settings.alpn;
  ERR_clear_error();
  for (const auto& c : settings.certificates) {
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* ctx = context->native_handle();
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert.c_str()) != 1) {
      why = fmt::format("tls: certificate {}: {}", c.cert, openssl_reasons());
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        why = fmt::format("tls: key {} does not match certificate {}", c.key, c.cert);
      } else {
        why = fmt::format("tls: key {}: {}", c.key, openssl_reasons());
      }
      return nullptr;
    }
    // Loading the key already compares it with the certificate; this also
    // catches a certificate loaded without any key.
    if (SSL_CTX_check_private_key(ctx) != 1) {
      why = fmt::format("tls: key {} does not match certificate {}: {}", c.key, c.cert,
                        openssl_reasons());
      return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, min_version);
    // Compression leaks secrets (CRIME); renegotiation started by a client
    // costs us a handshake each time and serves no HTTP/1.1 client.
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2 suites: forward secrecy and AEAD only (the "intermediate"
    // profile most TLS guides recommend: every client of the last decade
    // has one of these). CBC suites are left out: padding-oracle classes
    // of attack (LUCKY13) keep finding them. TLS 1.3's are all AEAD.
    SSL_CTX_set_cipher_list(ctx,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    // Idle keep-alive connections give their read and write buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // Resumption by session id (TLS 1.2, a cache in this process) and by
    // ticket (on by default). The cache is the first context's whichever
    // certificate SNI picks (OpenSSL keeps the initial context for it).
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sid_len);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    if (!settings.client_ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, settings.client_ca.c_str(), nullptr) != 1) {
        why = fmt::format("tls: client-ca {}: {}", settings.client_ca, openssl_reasons());
        return nullptr;
      }
      // The CA names sent in the certificate request: clients pick their
      // certificate by them. The list is owned by the context.
      STACK_OF(X509_NAME)* cas = SSL_load_client_CA_file(settings.client_ca.c_str());
      if (!cas) {
        why = fmt::format("tls: client-ca {}: {}", settings.client_ca, openssl_reasons());
        return nullptr;
      }
      SSL_CTX_set_client_CA_list(ctx, cas);
    }
    switch (settings.verify_client) {
      case Verify::none:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        break;
      case Verify::optional:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        break;
      case Verify::required:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        break;
    }
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, impl.get());
    impl->names.push_back(certificate_names(SSL_CTX_get0_certificate(ctx)));
    impl->contexts.push_back(std::move(context));
  }
  SSL_CTX* first = impl->contexts.front()->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, on_server_name);
  SSL_CTX_set_tlsext_servername_arg(first, impl.get());

  std::shared_ptr<ServerTls> tls(new ServerTls());
  for (auto& c : impl->contexts) tls->contexts_.emplace_back(impl, c.get());
  tls->names_ = impl->names;
  tls->impl_ = std::move(impl);
  return tls;
}

std::shared_ptr<asio::ssl::context> make_client_tls(bool verify, const std::string& ca_file,
                                                    std::string& why) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  if (!verify) {
    context->set_verify_mode(asio::ssl::verify_none);
    return context;
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  ERR_clear_error();
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(context->native_handle()) != 1) {
      why = fmt::format("tls: the system's trust store: {}", openssl_reasons());
      return nullptr;
    }
  } else if (SSL_CTX_load_verify_locations(context->native_handle(), ca_file.c_str(), nullptr) !=
             1) {
    why = fmt::format("tls: ca {}: {}", ca_file, openssl_reasons());
    return nullptr;
  }
  return context;
}

}  // namespace sb::net
