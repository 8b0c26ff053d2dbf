//! The OpenAPI document and the self-hosted Swagger UI.

use crate::both;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

// The OpenAPI document describes every route and the OAuth2 password flow Swagger UI uses.
both!(
    openapi_lists_every_route_and_the_password_flow,
    |app| async move {
        // Act
        let resp = app.get("/openapi.json", None).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let doc: Value = resp.json().await.unwrap();
        let paths = doc["paths"].as_object().expect("paths");
        for route in [
            "/auth/register",
            "/auth/token",
            "/auth/login",
            "/auth/refresh",
            "/auth/logout",
            "/auth/logout-all",
            "/users/me",
            "/users/me/password",
            "/users/me/sessions",
            "/users/me/sessions/{id}",
            "/admin/users",
            "/admin/users/{id}",
            "/admin/users/{id}/unlock",
            "/admin/audit",
            "/admin/roles",
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
            "/healthz",
            "/readyz",
        ] {
            assert!(
                paths.contains_key(route),
                "{route} missing from {:?}",
                paths.keys().collect::<Vec<_>>()
            );
        }
        for (path, method) in [
            ("/admin/users/{id}", "get"),
            ("/admin/users/{id}", "patch"),
            ("/admin/users/{id}", "delete"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path}");
        }
        // Every documented operation is routed: without a token, with a made-up id, each one
        // answers from its handler or its guard, never the router's 404 or 405 fallback.
        for (method, path) in documented_operations(&app).await {
            let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let status = app
                .request(method.clone(), &concrete, None, Some(json!({})))
                .await
                .status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: not routed ({status})"
            );
        }
        let oauth2 = &doc["components"]["securitySchemes"]["oauth2"];
        assert_eq!(oauth2["type"], json!("oauth2"), "{oauth2}");
        assert_eq!(
            oauth2["flows"]["password"]["tokenUrl"],
            json!("/auth/token"),
            "{oauth2}"
        );
    }
);

/// The `src`/`href` attribute values in an HTML page.
fn html_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            let after = &rest[start + attr.len()..];
            let end = after.find('"').expect("closing quote");
            links.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    links
}

/// Does this text load scripts or styles from another origin?
fn refers_to_a_cdn(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "unpkg.com",
        "jsdelivr",
        "cdnjs",
        "googleapis.com",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

// The Swagger UI and all its assets are served from the binary; nothing comes from a CDN.
both!(
    docs_ui_and_its_assets_are_served_without_a_cdn,
    |app| async move {
        // Act
        let resp = app.get("/docs/", None).await;
        // Assert
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = resp.text().await.unwrap();
        assert!(html.to_ascii_lowercase().contains("swagger"));
        assert!(!refers_to_a_cdn(&html), "{html}");
        let links = html_links(&html);
        for must in [
            "swagger-ui-bundle.js",
            "swagger-initializer.js",
            "swagger-ui.css",
        ] {
            assert!(
                links.iter().any(|l| l.ends_with(must)),
                "{must} not referenced: {links:?}"
            );
        }
        for link in links {
            assert!(
                !link.contains("://") && !link.starts_with("//"),
                "external asset {link}"
            );
            let path = format!("/docs/{}", link.trim_start_matches("./"));
            let asset = app.get(&path, None).await;
            assert_eq!(asset.status(), StatusCode::OK, "{path}");
            let body = asset.bytes().await.unwrap();
            assert!(!body.is_empty(), "{path} is empty");
            if path.ends_with("initializer.js") {
                let js = String::from_utf8_lossy(&body);
                assert!(js.contains("/openapi.json"), "{js}");
                assert!(!js.contains("http://") && !js.contains("https://"), "{js}");
            }
        }
        let redirect = app.get("/docs", None).await;
        assert!(redirect.status().is_redirection());
        assert_eq!(redirect.headers()["location"], "/docs/");
    }
);
