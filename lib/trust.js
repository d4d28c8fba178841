'use strict'

// The certificate authorities the store trusts for HTTPS: the ones Node
// trusts (its bundled roots, NODE_EXTRA_CA_CERTS, and the system's store when
// Node was started with --use-system-ca or --use-openssl-ca, where this Node
// can report it), plus the files in AWS_CA_BUNDLE, as the AWS SDK adds them.

const fs = require('node:fs')
const tls = require('node:tls')

/** The PEM text of each file named in `variable` that can be read (Node skips the others too). */
function filesIn(variable) {
  const file = process.env[variable]
  if (!file) return []
  try {
    return [fs.readFileSync(file, 'latin1')]
  } catch {
    return []
  }
}

/** Node's own trust: its default CA list where it can say, else its roots plus NODE_EXTRA_CA_CERTS. */
function nodeCertificates() {
  if (typeof tls.getCACertificates === 'function') return tls.getCACertificates('default')
  return [...tls.rootCertificates, ...filesIn('NODE_EXTRA_CA_CERTS')]
}

let trusted
/** Every CA the store trusts, as PEM texts (read once per process). */
function trustedCertificates() {
  if (!trusted) trusted = [...nodeCertificates(), ...filesIn('AWS_CA_BUNDLE')]
  return trusted
}

let context
/**
 * For Node's TLS sockets: undefined (Node's default) unless AWS_CA_BUNDLE adds to it; then one
 * secure context for every connection (building one from a CA list costs tens of ms).
 */
function tlsSecureContext() {
  if (!process.env.AWS_CA_BUNDLE) return undefined
  if (!context) context = tls.createSecureContext({ ca: trustedCertificates() })
  return context
}

module.exports = { trustedCertificates, tlsSecureContext }
