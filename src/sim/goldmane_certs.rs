//! The simulated Goldmane's certificates: its own certificate authority, a server certificate
//! and one client certificate, made up at start. Goldmane accepts only clients with a
//! certificate from the CA it trusts (in a cluster, the tigera-operator's), and so does the
//! simulation.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The names the server certificate carries: loopback for the demo, and the names the
/// tigera-operator gives the real service, so a client configured for a cluster works as is.
pub const SERVER_NAMES: [&str; 5] = [
    "127.0.0.1",
    "localhost",
    "goldmane",
    "goldmane.calico-system",
    "goldmane.calico-system.svc",
];

/// PEMs. No `Debug`: it holds private keys.
#[derive(Clone)]
pub struct GoldmaneCerts {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// The file names `--goldmane-certs-out DIR` writes, as the secrets' keys are named.
pub const CA_FILE: &str = "ca.crt";
pub const CLIENT_CERT_FILE: &str = "tls.crt";
pub const CLIENT_KEY_FILE: &str = "tls.key";

impl GoldmaneCerts {
    pub fn generate() -> std::io::Result<GoldmaneCerts> {
        let err = |e: rcgen::Error| std::io::Error::other(format!("Goldmane certificate: {e}"));
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        // Named uniquely, so a certificate from another run's CA is from an unknown CA, not a
        // forgery of a known one.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("palisade demo Goldmane CA {stamp:x}"),
        );
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let leaf = |names: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().map_err(err)?;
            let mut params = CertificateParams::new(names).map_err(err)?;
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            let cert = params.signed_by(&key, &issuer).map_err(err)?;
            Ok::<_, std::io::Error>((cert.pem(), key.serialize_pem()))
        };
        let (server_cert_pem, server_key_pem) = leaf(
            SERVER_NAMES.iter().map(|n| n.to_string()).collect(),
            "goldmane",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert_pem, client_key_pem) = leaf(
            vec!["palisade".to_string()],
            "palisade",
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        Ok(GoldmaneCerts {
            ca_pem: ca_cert.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// Writes the CA and the client's certificate and key into `dir` (created 0700 if absent),
    /// each file 0600: what a client needs to connect.
    pub fn write_client_files(&self, dir: &Path) -> std::io::Result<()> {
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        for (name, pem) in [
            (CA_FILE, &self.ca_pem),
            (CLIENT_CERT_FILE, &self.client_cert_pem),
            (CLIENT_KEY_FILE, &self.client_key_pem),
        ] {
            crate::private_file::write_replacing(&dir.join(name), pem.as_bytes())?;
        }
        Ok(())
    }
}
