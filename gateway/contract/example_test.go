package contract_test

import (
	"fmt"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func ExampleParse() {
	m, err := contract.Parse("tools.yaml", []byte(`
manifest_version: "1.0"
contracts:
  - name: greet
    version: 1.0.0
    parameters:
      type: object
      properties:
        name: { type: string, max_length: 20 }
      required: [name]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	greet := m.Contracts[0]
	fmt.Println(greet.Name(), greet.Version(), greet.Pos)
	err = greet.Params.ValidateFields(map[string]*altarv1.Value{"name": schema.Int(7)})
	fmt.Println(err != nil)
	// Output:
	// greet 1.0.0 tools.yaml:4:5
	// true
}

func ExampleParse_problems() {
	_, err := contract.Parse("tools.yaml", []byte(`
manifest_version: "1.0"
contracts:
  - name: greet
    version: 1.0
    parameters:
      type: object
      properties:
        name: { type: string, max_length: 20, min_length: 30 }
      requird: [name]
`))
	for _, f := range altarerr.From(err).Fields {
		fmt.Println(altarerr.FormatField(f))
	}
	// Output:
	// tools.yaml:5:14: contracts[0].version: expected a string, got a number; quote it: "1.0" (kind)
	// tools.yaml:9:59: contracts[0].parameters.properties.name.min_length: min_length 30 is greater than max_length 20 (range)
	// tools.yaml:10:7: contracts[0].parameters.requird: unknown key "requird" (did you mean "required"?) (unknown_key)
}
