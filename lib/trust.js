'use strict'

// The certificate authorities the store trusts for HTTPS: exactly the ones
// Node trusts, whatever Node was told: its bundled roots, the system's store
// under --use-system-ca, OpenSSL's store under --use-openssl-ca (the files
// SSL_CERT_FILE and SSL_CERT_DIR name), and NODE_EXTRA_CA_CERTS; plus the file
// in AWS_CA_BUNDLE, as the AWS SDK adds it. The core's own sockets get that
// list as PEM texts; Node's own sockets keep Node's default, or with
// AWS_CA_BUNDLE a secure context made from the same list.

const fs = require('node:fs')
const path = require('node:path')
const tls = require('node:tls')

/**
 * Where Node's OpenSSL looks when SSL_CERT_FILE and SSL_CERT_DIR are not set: Node's own
 * builds configure it as /etc/ssl (their binary says `OPENSSLDIR: "/etc/ssl"`); a Node built
 * on the system's OpenSSL uses the system's, which is where the distribution keeps it.
 */
function openSSLDir() {
  if (!process.config?.variables?.node_shared_openssl) return '/etc/ssl'
  return ['/usr/lib/ssl', '/etc/pki/tls', '/etc/ssl'].find((dir) => fs.existsSync(dir)) || '/etc/ssl'
}

/** OpenSSL reads a certificate directory by hash: `<8 hex digits>.<n>`; other files are not read. */
const HASHED_NAME = /^[0-9a-f]{8}\.\d+$/

/** The PEM text of `file`, or nothing when it cannot be read (Node skips it too). */
function read(file) {
  try {
    return [fs.readFileSync(file, 'latin1')]
  } catch {
    return []
  }
}

/** The PEM texts of the file named in `variable`. */
function filesIn(variable) {
  return process.env[variable] ? read(process.env[variable]) : []
}

/** Whether Node reads OpenSSL's store instead of its bundled roots: the last of --use-openssl-ca and --use-bundled-ca wins, the command line after NODE_OPTIONS. */
function usesOpenSSLStore() {
  let openssl = false
  for (const flag of [...(process.env.NODE_OPTIONS || '').split(/\s+/), ...process.execArgv]) {
    if (flag === '--use-openssl-ca') openssl = true
    else if (flag === '--use-bundled-ca') openssl = false
  }
  return openssl
}

/** OpenSSL's default store, as Node's OpenSSL reads it: SSL_CERT_FILE, and the hash-named files in the SSL_CERT_DIR directories. */
function openSSLStore() {
  const file = process.env.SSL_CERT_FILE || path.join(openSSLDir(), 'cert.pem')
  const dirs = (process.env.SSL_CERT_DIR || path.join(openSSLDir(), 'certs')).split(path.delimiter).filter(Boolean)
  const inDirs = dirs.flatMap((dir) => {
    try {
      return fs
        .readdirSync(dir)
        .filter((name) => HASHED_NAME.test(name))
        .flatMap((name) => read(path.join(dir, name)))
    } catch {
      return []
    }
  })
  return [...read(file), ...inDirs]
}

/** Node's own trust, as PEM texts. (Bun's https also trusts the system's store, which its default list leaves out.) */
function nodeCertificates() {
  const openssl = usesOpenSSLStore() || process.versions.bun ? openSSLStore() : []
  // Node 22+ reports its default list (bundled or system roots, and NODE_EXTRA_CA_CERTS), but not OpenSSL's store.
  if (typeof tls.getCACertificates === 'function') return [...tls.getCACertificates('default'), ...openssl]
  return [...(usesOpenSSLStore() ? openssl : tls.rootCertificates), ...filesIn('NODE_EXTRA_CA_CERTS')]
}

let trusted
/** Every CA the store trusts, as PEM texts (read once per process), for the core's own sockets. */
function trustedCertificates() {
  if (!trusted) trusted = [...nodeCertificates(), ...filesIn('AWS_CA_BUNDLE')]
  return trusted
}

let context
/**
 * For Node's TLS sockets: undefined (Node's default, whatever its flags) unless AWS_CA_BUNDLE adds
 * to it; then one secure context for every connection, with every CA above (building one from a
 * list of CAs costs tens of ms). Adding the bundle to a default context would be simpler, but
 * Node 20 then forgets NODE_EXTRA_CA_CERTS.
 */
function tlsSecureContext() {
  if (!process.env.AWS_CA_BUNDLE) return undefined
  if (!context) context = tls.createSecureContext({ ca: trustedCertificates() })
  return context
}

module.exports = { trustedCertificates, tlsSecureContext, openSSLDir }
