//! Digest pinning: replace verified tag references in the raw object, and
//! nothing else (no typed round trip that would drop unknown fields).

use std::collections::HashMap;

use serde_json::Value;

use crate::workload::ImageSite;

/// Returns the mutated object, or None when no image string changes.
pub fn pin_images(
    object: &Value,
    sites: &[ImageSite],
    pins: &HashMap<String, String>,
) -> Option<Value> {
    let mut mutated = object.clone();
    let mut changed = false;
    for site in sites {
        let Some(pinned) = pins.get(&site.image) else {
            continue;
        };
        if let Some(slot) = mutated.pointer_mut(&site.pointer) {
            if slot.as_str() != Some(pinned.as_str()) {
                *slot = Value::String(pinned.clone());
                changed = true;
            }
        }
    }
    changed.then_some(mutated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::image_sites;
    use serde_json::json;

    #[test]
    fn only_image_strings_change_and_unknown_fields_survive() {
        let object = json!({
            "spec": {
                "futureField": {"x": 1},
                "containers": [{"name": "a", "image": "reg.io/a:1", "unknownKnob": true},
                               {"name": "b", "image": "reg.io/b:2"}],
                "initContainers": [{"name": "c", "image": "reg.io/a:1"}]
            }
        });
        let sites = image_sites(&object, "/spec").unwrap();
        let pins = HashMap::from([("reg.io/a:1".to_string(), "reg.io/a:1@sha256:aa".to_string())]);
        let mutated = pin_images(&object, &sites, &pins).unwrap();
        let mut expected = object.clone();
        expected["spec"]["containers"][0]["image"] = json!("reg.io/a:1@sha256:aa");
        expected["spec"]["initContainers"][0]["image"] = json!("reg.io/a:1@sha256:aa");
        assert_eq!(mutated, expected);
    }

    #[test]
    fn no_change_no_patch() {
        let object =
            json!({"spec": {"containers": [{"name": "a", "image": "reg.io/a@sha256:aa"}]}});
        let sites = image_sites(&object, "/spec").unwrap();
        assert_eq!(pin_images(&object, &sites, &HashMap::new()), None);
        let pins = HashMap::from([(
            "reg.io/a@sha256:aa".to_string(),
            "reg.io/a@sha256:aa".to_string(),
        )]);
        assert_eq!(pin_images(&object, &sites, &pins), None);
    }
}
