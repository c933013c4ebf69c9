//! TLS for the demo server: a certificate authority and a server certificate for 127.0.0.1,
//! made up when the server starts (their keys never leave memory).
//!
//! Why TLS on loopback: kubectl (client-go) reads a kubeconfig's credentials only for an
//! `https://` server, so over plain HTTP it would send no token at all, and a server that
//! requires one (as a real API server does) could not serve it. The kubeconfig carries the CA
//! as `certificate-authority-data`, so kubectl and kube-rs both verify the server.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// What the server and its kubeconfig need.
#[derive(Clone)]
pub struct DemoTls {
    /// The CA certificate (PEM) that signed the server's certificate.
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
}

impl DemoTls {
    pub fn generate() -> std::io::Result<DemoTls> {
        let err = |e: rcgen::Error| std::io::Error::other(format!("demo certificate: {e}"));
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "palisade demo CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let server_key = KeyPair::generate().map_err(err)?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "palisade demo API server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server_cert = params.signed_by(&server_key, &issuer).map_err(err)?;

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> =
            vec![server_cert.der().clone(), ca_cert.der().clone()];
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(std::io::Error::other)?;
        // The server speaks HTTP/1.1 only; say so, so clients that offer h2 do not try it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(DemoTls {
            ca_pem: ca_cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
