//! The `tls-lean` provider: what public servers need and no more, for boards with little flash.
//!
//! `rustls_rustcrypto::provider()` links every algorithm it has, because its key exchange and
//! verification tables are statics that name them all (and are private, so they cannot be
//! subset). This provider takes its cipher suites and random source and names its own key
//! exchanges and verification algorithms over the same RustCrypto crates:
//!
//! - cipher suites: TLS 1.3 and 1.2 (ECDHE with ECDSA or RSA) with AES-128-GCM and AES-256-GCM;
//!   no ChaCha20-Poly1305 (every server that offers it offers AES-GCM too);
//! - key exchange: secp256r1 and secp384r1; no X25519 (a server that accepts only X25519 fails
//!   the handshake);
//! - certificates and handshake signatures: ECDSA P-256 and P-384 (Let's Encrypt's ECDSA chain
//!   and the CDNs' need P-384 for the intermediates) with SHA-256 and SHA-384, RSA PKCS#1 v1.5
//!   and PSS with SHA-256, -384 and -512; no Ed25519 certificates (no public CA issues them);
//! - no private keys (the firmware makes no client certificates): loading one is an error.
//!
//! Verification itself (chain, names, dates) is rustls' and webpki's, as with the full provider.

use alloc::boxed::Box;
use alloc::sync::Arc;

use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, KeyProvider, SharedSecret, SupportedKxGroup,
    WebPkiSupportedAlgorithms,
};
use rustls::pki_types::alg_id;
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use rustls::{NamedGroup, SignatureScheme};

/// The lean provider (see the module doc).
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: alloc::vec![
            rustls_rustcrypto::TLS13_AES_128_GCM_SHA256,
            rustls_rustcrypto::TLS13_AES_256_GCM_SHA384,
            rustls_rustcrypto::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            rustls_rustcrypto::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            rustls_rustcrypto::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            rustls_rustcrypto::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: alloc::vec![&SecP256R1 as &dyn SupportedKxGroup, &SecP384R1],
        signature_verification_algorithms: ALGORITHMS,
        secure_random: &rustls_rustcrypto::Provider,
        key_provider: &NoPrivateKeys,
    }
}

#[derive(Debug)]
struct NoPrivateKeys;

impl KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "this firmware's TLS has no client keys".into(),
        ))
    }
}

/// An ephemeral ECDH key on a NIST curve, with its public key in SEC1 form.
macro_rules! nist_kx {
    ($group:ident, $exchange:ident, $curve:ident, $name:expr) => {
        #[derive(Debug)]
        struct $group;

        struct $exchange {
            secret: $curve::ecdh::EphemeralSecret,
            public: Box<[u8]>,
        }

        impl SupportedKxGroup for $group {
            fn name(&self) -> NamedGroup {
                $name
            }

            fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
                // OsRng is getrandom, which is the board's hardware RNG (`register_rng!`).
                let secret = $curve::ecdh::EphemeralSecret::random(&mut rand_core::OsRng);
                let public = $curve::PublicKey::from(&secret).to_sec1_bytes();
                Ok(Box::new($exchange { secret, public }))
            }
        }

        impl ActiveKeyExchange for $exchange {
            fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
                let peer = $curve::PublicKey::from_sec1_bytes(peer)
                    .map_err(|_| rustls::PeerMisbehaved::InvalidKeyShare)?;
                let shared = self.secret.diffie_hellman(&peer);
                Ok(SharedSecret::from(shared.raw_secret_bytes().as_slice()))
            }

            fn pub_key(&self) -> &[u8] {
                &self.public
            }

            fn group(&self) -> NamedGroup {
                $name
            }
        }
    };
}

nist_kx!(SecP256R1, SecP256R1Exchange, p256, NamedGroup::secp256r1);
nist_kx!(SecP384R1, SecP384R1Exchange, p384, NamedGroup::secp384r1);

/// Checks a signature: `(public key, message, signature)`.
type VerifyFn = fn(&[u8], &[u8], &[u8]) -> Result<(), InvalidSignature>;

/// A signature algorithm: the key and signature identifiers webpki matches certificates by, and
/// the function that checks a signature.
#[derive(Debug)]
struct Verifier {
    key_alg: AlgorithmIdentifier,
    sig_alg: AlgorithmIdentifier,
    verify: VerifyFn,
}

impl SignatureVerificationAlgorithm for Verifier {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.key_alg
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.sig_alg
    }

    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        (self.verify)(public_key, message, signature)
    }
}

/// ECDSA over a NIST curve with a given hash: SEC1 public key, DER signature.
macro_rules! ecdsa {
    ($curve:ident, $hash:ty) => {
        |public_key: &[u8], message: &[u8], signature: &[u8]| {
            use sha2::Digest;
            use signature::hazmat::PrehashVerifier;
            let signature =
                $curve::ecdsa::DerSignature::try_from(signature).map_err(|_| InvalidSignature)?;
            let key = $curve::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                .map_err(|_| InvalidSignature)?;
            key.verify_prehash(&<$hash>::digest(message), &signature)
                .map_err(|_| InvalidSignature)
        }
    };
}

/// RSA with a given padding and hash: PKCS#1 public key, raw signature.
macro_rules! rsa {
    ($padding:ident, $hash:ty) => {
        |public_key: &[u8], message: &[u8], signature: &[u8]| {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use signature::Verifier;
            let key =
                rsa::RsaPublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
            let signature =
                rsa::$padding::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
            rsa::$padding::VerifyingKey::<$hash>::new(key)
                .verify(message, &signature)
                .map_err(|_| InvalidSignature)
        }
    };
}

static ECDSA_P256_SHA256: Verifier = Verifier {
    key_alg: alg_id::ECDSA_P256,
    sig_alg: alg_id::ECDSA_SHA256,
    verify: ecdsa!(p256, sha2::Sha256),
};
static ECDSA_P256_SHA384: Verifier = Verifier {
    key_alg: alg_id::ECDSA_P256,
    sig_alg: alg_id::ECDSA_SHA384,
    verify: ecdsa!(p256, sha2::Sha384),
};
static ECDSA_P384_SHA256: Verifier = Verifier {
    key_alg: alg_id::ECDSA_P384,
    sig_alg: alg_id::ECDSA_SHA256,
    verify: ecdsa!(p384, sha2::Sha256),
};
static ECDSA_P384_SHA384: Verifier = Verifier {
    key_alg: alg_id::ECDSA_P384,
    sig_alg: alg_id::ECDSA_SHA384,
    verify: ecdsa!(p384, sha2::Sha384),
};
static RSA_PKCS1_SHA256: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PKCS1_SHA256,
    verify: rsa!(pkcs1v15, sha2::Sha256),
};
static RSA_PKCS1_SHA384: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PKCS1_SHA384,
    verify: rsa!(pkcs1v15, sha2::Sha384),
};
static RSA_PKCS1_SHA512: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PKCS1_SHA512,
    verify: rsa!(pkcs1v15, sha2::Sha512),
};
static RSA_PSS_SHA256: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PSS_SHA256,
    verify: rsa!(pss, sha2::Sha256),
};
static RSA_PSS_SHA384: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PSS_SHA384,
    verify: rsa!(pss, sha2::Sha384),
};
static RSA_PSS_SHA512: Verifier = Verifier {
    key_alg: alg_id::RSA_ENCRYPTION,
    sig_alg: alg_id::RSA_PSS_SHA512,
    verify: rsa!(pss, sha2::Sha512),
};

static ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        &ECDSA_P256_SHA256,
        &ECDSA_P256_SHA384,
        &ECDSA_P384_SHA256,
        &ECDSA_P384_SHA384,
        &RSA_PKCS1_SHA256,
        &RSA_PKCS1_SHA384,
        &RSA_PKCS1_SHA512,
        &RSA_PSS_SHA256,
        &RSA_PSS_SHA384,
        &RSA_PSS_SHA512,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[&ECDSA_P384_SHA384, &ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[&ECDSA_P256_SHA256, &ECDSA_P384_SHA256],
        ),
        (SignatureScheme::RSA_PKCS1_SHA256, &[&RSA_PKCS1_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[&RSA_PKCS1_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[&RSA_PKCS1_SHA512]),
        (SignatureScheme::RSA_PSS_SHA256, &[&RSA_PSS_SHA256]),
        (SignatureScheme::RSA_PSS_SHA384, &[&RSA_PSS_SHA384]),
        (SignatureScheme::RSA_PSS_SHA512, &[&RSA_PSS_SHA512]),
    ],
};
