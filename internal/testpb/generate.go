// Package testpb holds Event, a protocol buffer message used by the tests and
// examples of this module (codec/proto and the fuzz targets). It is internal:
// it is not part of the public API and may change at any time.
//
// event.pb.go is generated from event.proto and checked in, so building and
// testing need neither protoc nor protoc-gen-go. To regenerate it, install
// protoc and protoc-gen-go at the version of google.golang.org/protobuf in
// go.mod, then run go generate in this directory.
package testpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative event.proto
