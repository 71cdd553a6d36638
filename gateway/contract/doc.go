// Package contract holds the Host's trusted tool contracts: the manifest
// format they are written in, its loader, and the rules every contract
// obeys (names, versions, schemas). The contract registry (modes, fulfil,
// register, namespacing) will live here too.
//
// # Manifests
//
// A manifest is a YAML or JSON file whose keys are the proto field names of
// altar.v1.ToolManifest (docs/manifests.md describes every key;
// manifests/manifest.schema.json is its JSON Schema). Parse, LoadFile and
// LoadPaths read files; FromProto checks a manifest that arrived over the
// wire. All of them apply the same rules and compile every schema with
// schema.Compile, so a *Manifest they return is ready to use.
//
// The loader walks the YAML syntax tree itself, so that:
//
//   - every problem is reported at once, each as an altarv1.FieldError with
//     file, line, column, a readable path
//     ("contracts[0].parameters.properties.age.minimum") and a rule, inside
//     one *altarerr.Error with code ERROR_CODE_INVALID_MANIFEST;
//   - an unknown key is an error (a typo never falls back to a default), and
//     so is a node of the wrong kind;
//   - enum members and defaults become exact Values: an integer stays an
//     int64 and "3.0" is a double, as in value.proto's JSON mapping;
//   - anchors, aliases and merge keys are resolved, with a bound on how much
//     aliases may expand.
//
// Input is bounded (MaxFileBytes, MaxDepth, MaxMappingKeys, MaxContracts,
// MaxAliasExpansion) before the YAML parser runs, so a hostile file costs
// little. Everything here is synchronous: no goroutines and no contexts;
// only LoadFile, LoadPaths and ExpandPaths touch the file system.
//
// # Names
//
// ValidateName, ValidatePropertyName and ValidateVersion are the naming
// rules of the protocol, shared by the loader and the registry.
package contract
