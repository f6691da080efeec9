// Package aggregatetest is a reference implementation of the KPL aggregated
// record format built on google.golang.org/protobuf, for tests: it checks
// the hand-written encoder and decoder against a general protobuf library.
// Only tests import it.
package aggregatetest

import (
	"crypto/md5"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Magic is the 4-byte prefix of an aggregated record, repeated here so that
// the reference does not depend on the code under test.
const Magic = "\xF3\x89\x9A\xC2"

// RawRecord is one Record message as written on the wire.
type RawRecord struct {
	PartitionKeyIndex uint64
	// ExplicitHashKeyIndex is nil when the field is absent.
	ExplicitHashKeyIndex *uint64
	Data                 []byte
	// Tags are (key, value) pairs; a nil value is an absent field.
	Tags []Tag
}

// Tag is one Tag message.
type Tag struct {
	Key   string
	Value *string
}

// Message is a whole AggregatedRecord message.
type Message struct {
	PartitionKeyTable    []string
	ExplicitHashKeyTable []string
	Records              []RawRecord
}

// Record is a user record with its keys resolved from the tables.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string
	HasEHK          bool
	Data            []byte
}

var descOnce = sync.OnceValue(func() protoreflect.MessageDescriptor {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	req := descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	u64 := descriptorpb.FieldDescriptorProto_TYPE_UINT64
	byt := descriptorpb.FieldDescriptorProto_TYPE_BYTES
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	field := func(name string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: &label, Type: &typ}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("kpl_messages.proto"),
		Package: proto.String("kpltest"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("AggregatedRecord"), Field: []*descriptorpb.FieldDescriptorProto{
				field("partition_key_table", 1, rep, str, ""),
				field("explicit_hash_key_table", 2, rep, str, ""),
				field("records", 3, rep, msg, ".kpltest.Record"),
			}},
			{Name: proto.String("Tag"), Field: []*descriptorpb.FieldDescriptorProto{
				field("key", 1, req, str, ""),
				field("value", 2, opt, str, ""),
			}},
			{Name: proto.String("Record"), Field: []*descriptorpb.FieldDescriptorProto{
				field("partition_key_index", 1, req, u64, ""),
				field("explicit_hash_key_index", 2, opt, u64, ""),
				field("data", 3, req, byt, ""),
				field("tags", 4, rep, msg, ".kpltest.Tag"),
			}},
		},
	}
	f, err := protodesc.NewFile(fd, nil)
	if err != nil {
		panic(err)
	}
	return f.Messages().ByName("AggregatedRecord")
})

// Descriptor returns the descriptor of the AggregatedRecord message.
func Descriptor() protoreflect.MessageDescriptor { return descOnce() }

// Marshal encodes m with protobuf-go, deterministically.
func Marshal(m Message) []byte {
	md := Descriptor()
	recMD := md.Fields().ByNumber(3).Message()
	tagMD := recMD.Fields().ByNumber(4).Message()
	ar := dynamicpb.NewMessage(md)
	pks := ar.Mutable(md.Fields().ByNumber(1)).List()
	for _, k := range m.PartitionKeyTable {
		pks.Append(protoreflect.ValueOfString(k))
	}
	ehks := ar.Mutable(md.Fields().ByNumber(2)).List()
	for _, k := range m.ExplicitHashKeyTable {
		ehks.Append(protoreflect.ValueOfString(k))
	}
	recs := ar.Mutable(md.Fields().ByNumber(3)).List()
	for _, r := range m.Records {
		rm := dynamicpb.NewMessage(recMD)
		rm.Set(recMD.Fields().ByNumber(1), protoreflect.ValueOfUint64(r.PartitionKeyIndex))
		if r.ExplicitHashKeyIndex != nil {
			rm.Set(recMD.Fields().ByNumber(2), protoreflect.ValueOfUint64(*r.ExplicitHashKeyIndex))
		}
		data := r.Data
		if data == nil {
			data = []byte{}
		}
		rm.Set(recMD.Fields().ByNumber(3), protoreflect.ValueOfBytes(data))
		tags := rm.Mutable(recMD.Fields().ByNumber(4)).List()
		for _, t := range r.Tags {
			tm := dynamicpb.NewMessage(tagMD)
			tm.Set(tagMD.Fields().ByNumber(1), protoreflect.ValueOfString(t.Key))
			if t.Value != nil {
				tm.Set(tagMD.Fields().ByNumber(2), protoreflect.ValueOfString(*t.Value))
			}
			tags.Append(protoreflect.ValueOfMessage(tm))
		}
		recs.Append(protoreflect.ValueOfMessage(rm))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ar)
	if err != nil {
		panic(err)
	}
	return b
}

// Frame wraps a protobuf body into an aggregated record: magic, body, MD5.
func Frame(body []byte) []byte {
	sum := md5.Sum(body)
	out := append([]byte(Magic), body...)
	return append(out, sum[:]...)
}

// ErrIndex is returned by Decode when a record's index is outside its table.
var ErrIndex = errors.New("aggregatetest: index outside the key table")

// Unmarshal parses a protobuf body with protobuf-go, required fields
// checked.
func Unmarshal(body []byte) (Message, error) {
	md := Descriptor()
	ar := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(body, ar); err != nil {
		return Message{}, err
	}
	var m Message
	pks := ar.Get(md.Fields().ByNumber(1)).List()
	for i := 0; i < pks.Len(); i++ {
		m.PartitionKeyTable = append(m.PartitionKeyTable, pks.Get(i).String())
	}
	ehks := ar.Get(md.Fields().ByNumber(2)).List()
	for i := 0; i < ehks.Len(); i++ {
		m.ExplicitHashKeyTable = append(m.ExplicitHashKeyTable, ehks.Get(i).String())
	}
	recMD := md.Fields().ByNumber(3).Message()
	recs := ar.Get(md.Fields().ByNumber(3)).List()
	for i := 0; i < recs.Len(); i++ {
		rm := recs.Get(i).Message()
		r := RawRecord{
			PartitionKeyIndex: rm.Get(recMD.Fields().ByNumber(1)).Uint(),
			Data:              rm.Get(recMD.Fields().ByNumber(3)).Bytes(),
		}
		if rm.Has(recMD.Fields().ByNumber(2)) {
			v := rm.Get(recMD.Fields().ByNumber(2)).Uint()
			r.ExplicitHashKeyIndex = &v
		}
		m.Records = append(m.Records, r)
	}
	return m, nil
}

// Decode parses a protobuf body with protobuf-go and resolves the table
// indices. It returns ErrIndex (wrapped) for an index outside its table.
func Decode(body []byte) ([]Record, error) {
	m, err := Unmarshal(body)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(m.Records))
	for i, r := range m.Records {
		if r.PartitionKeyIndex >= uint64(len(m.PartitionKeyTable)) {
			return nil, fmt.Errorf("record %d: %w", i, ErrIndex)
		}
		rec := Record{PartitionKey: m.PartitionKeyTable[r.PartitionKeyIndex], Data: r.Data}
		if r.ExplicitHashKeyIndex != nil {
			if *r.ExplicitHashKeyIndex >= uint64(len(m.ExplicitHashKeyTable)) {
				return nil, fmt.Errorf("record %d: %w", i, ErrIndex)
			}
			rec.ExplicitHashKey = m.ExplicitHashKeyTable[*r.ExplicitHashKeyIndex]
			rec.HasEHK = true
		}
		out = append(out, rec)
	}
	return out, nil
}
