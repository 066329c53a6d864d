package org.elasticsearch.plugins;

import org.elasticsearch.Version;

import java.util.List;

/** Elasticsearch 9.x flavour of the descriptor for a plugin class found on the classpath. */
final class ClasspathPluginDescriptor {
    private ClasspathPluginDescriptor() {
    }

    static PluginDescriptor of(Class<? extends Plugin> pluginClass) {
        return new PluginDescriptor(
            pluginClass.getName(),          // name
            "loaded from the classpath",    // description
            "NA",                           // plugin version
            Version.CURRENT.toString(),     // elasticsearch version
            Integer.toString(Runtime.version().feature()), // java version
            pluginClass.getName(),          // class name
            null,                           // module name
            List.of(),                      // extended plugins
            false,                          // has native controller
            false,                          // licensed
            false,                          // modular
            false,                          // stable
            PluginDescriptor.DeploymentTarget.ALL
        );
    }
}
