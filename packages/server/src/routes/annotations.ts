/**
 * @module The editable parts of a version: tags and notes. Each edit is audited by core; the answer is the
 * version as it is afterwards.
 */
import { invalid, viewVersion } from "@cairn/core";
import { commonErrors, NotesBody, TagsBody, VersionParams, VersionView } from "../schemas.js";
import { type RoutePlugin, versionRef } from "./_shared.js";

export const annotationRoutes: RoutePlugin = async (app, { services }) => {
  app.patch(
    "/artifacts/:name/versions/:version/tags",
    {
      schema: {
        summary: "Set and remove a version's labels",
        tags: ["versions"],
        params: VersionParams,
        body: TagsBody,
        response: { 200: VersionView, ...commonErrors },
      },
      config: { access: "version.tag" },
    },
    async (request) => {
      const ref = versionRef(request.params.name, request.params.version);
      const { set = {}, remove = [] } = request.body;
      if (Object.keys(set).length === 0 && remove.length === 0) {
        throw invalid("give labels to set or to remove", { hint: 'send {"set": {"team": "nlp"}}' });
      }
      return viewVersion(await services.registry(request).tag(ref, set, remove));
    },
  );

  app.put(
    "/artifacts/:name/versions/:version/notes",
    {
      schema: {
        summary: "Replace a version's release notes",
        tags: ["versions"],
        params: VersionParams,
        body: NotesBody,
        response: { 200: VersionView, ...commonErrors },
      },
      config: { access: "version.notes" },
    },
    async (request) => {
      const ref = versionRef(request.params.name, request.params.version);
      return viewVersion(await services.registry(request).setNotes(ref, request.body.notes));
    },
  );
};
