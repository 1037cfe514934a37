//! Schema fragments that derive macros cannot express.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An embedded Kubernetes object of any kind (`runtime.RawExtension` with
/// `x-kubernetes-embedded-resource`): apiVersion, kind and metadata are kept as given.
pub fn embedded_resource(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A list of embedded Kubernetes objects of any kind.
pub fn embedded_resource_list(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": embedded_resource(generator)
    })
}

/// Free-form JSON kept as is.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A Kubernetes quantity (`resource.Quantity`): an integer or a string such as `500m`, `2Gi`.
pub fn quantity_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
            "x-kubernetes-int-or-string": true
        }
    })
}
