// The TypeScript side of the catalogue: ts-json-schema-generator reads the endpoint types
// @fal-ai/client ships (src/types/endpoints.d.ts) and prints, as JSON on stdout, one JSON Schema
// definition per exported type reachable from EndpointTypeMap, with the tools' versions.
// python -m contracts.catalogue.generate runs this and post-processes the result.
//
// Usage: node schemas.mjs PATH/TO/endpoints.d.ts
//
// Two rules are added to the tool's own: a union naming the global `Blob` (the client's
// `string | Blob | File` file inputs, uploaded by the client and sent as a URL or data URI)
// is a plain string, as the wire carries it; and a description is the whole doc comment, even
// when an "@Image1" in it looks like a JSDoc tag to TypeScript (commentText below).
import { createRequire } from "node:module";
import tsj from "ts-json-schema-generator";
import ts from "typescript";

const require = createRequire(import.meta.url);

class FileInputParser {
    supportsNode(node) {
        return (
            ts.isUnionTypeNode(node) &&
            node.types.some((member) => ts.isTypeReferenceNode(member) && member.typeName.getText() === "Blob")
        );
    }

    createType() {
        return new tsj.StringType();
    }
}

// fal's doc comments carry no JSDoc tags, but TypeScript starts a tag at any "@" after white
// space, so "Reference images as @Image1, @Image2" would lose everything from "@Image1" on.
// When a comment has such "tags", its description is the whole comment text, normalised the
// way ts-json-schema-generator normalises descriptions.
function commentText(node) {
    const docs = ts.getJSDocCommentsAndTags(node).filter((doc) => ts.isJSDoc(doc));
    if (!docs.length) {
        return undefined;
    }
    const raw = docs[docs.length - 1].getText().replace(/^\/\*\*|\*\/$/g, "");
    const lines = raw.split("\n").map((line) => line.replace(/^\s*\* ?/, "").trimEnd());
    return lines.join("\n").replace(/\r/g, "").trim().replace(/(?<=[^\n])\n(?=[^\n*-])/g, " ").trim();
}

const getAnnotations = tsj.ExtendedAnnotationsReader.prototype.getAnnotations;
tsj.ExtendedAnnotationsReader.prototype.getAnnotations = function (node) {
    const annotations = getAnnotations.call(this, node);
    if (node.symbol?.getJsDocTags().length) {
        const description = commentText(node);
        if (description) {
            return { ...annotations, description };
        }
    }
    return annotations;
};

const [typesFile] = process.argv.slice(2);
if (!typesFile) {
    console.error("usage: node schemas.mjs PATH/TO/endpoints.d.ts");
    process.exit(2);
}

const config = {
    ...tsj.DEFAULT_CONFIG,
    path: typesFile,
    type: "EndpointTypeMap",
    expose: "export", // every exported type is one shared definition, referenced by $ref
    topRef: true,
    jsDoc: "extended", // JSDoc comments become descriptions
    sortProps: true,
    skipTypeCheck: true, // the client's own build checks its types
    additionalProperties: true, // fal's apps ignore fields they do not know
};
const program = tsj.createProgram(config);
const parser = tsj.createParser(program, config, (chain) => chain.addNodeParser(new FileInputParser()));
const generator = new tsj.SchemaGenerator(program, parser, tsj.createFormatter(config), config);
const schema = generator.createSchema(config.type);

const tools = {
    "ts-json-schema-generator": require("ts-json-schema-generator/package.json").version,
    typescript: ts.version,
};
process.stdout.write(JSON.stringify({ tools, schema }));
