// Package contract holds the Host's trusted tool contracts: the manifest
// format they are written in, its loader, and the rules every contract
// obeys (names, versions, schemas), and the Registry that decides which
// runtime may serve which contract (modes, fulfil, register, namespacing).
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
//
// # The registry
//
// Registry holds the trusted contracts (LoadPaths, Load, Reload) and the
// bindings of runtimes to them. In STRICT mode a runtime may only Fulfill a
// trusted contract, matched by name, version constraint and capabilities;
// a runtime that declares a definition differing from the Host's is
// refused. In DEVELOPMENT mode a runtime may also Register its own
// contracts with acknowledge_insecure (audited, logged as a warning, and
// optionally scoped to one session). Resolve turns "runtime_id/name" or a
// bare name into the contract and the runtimes serving it. Every load,
// fulfil, registration, refusal, withdrawal, unregistration and mode
// switch is an audit.Event. Nothing in the registry blocks on I/O except
// LoadPaths and Reload, which read files before taking the lock.
package contract
