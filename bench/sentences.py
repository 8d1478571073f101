"""Sentences written for Parley's recognition benchmarks, short to long, in five languages.

Everyday speech of the kind people say in a meeting or a call: 1 to about 12 s when spoken.
Written for the project (MIT, as the rest of it); each is its own reference transcript.
"""

from __future__ import annotations

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Yes, of course.",
        "Good morning, everyone.",
        "Can you hear me now?",
        "Please send me the report before Friday.",
        "The train leaves at eight in the morning.",
        "I will call you back after the meeting.",
        "We need two more chairs for the guests in the second row.",
        "The weather is lovely today, so we will walk to the park after lunch.",
        "My sister works in a small hospital near the river, and she loves her job.",
        "Could you tell me where the nearest pharmacy is, and whether it is open on Sundays?",
        "I think we should start the project next week, and we can review the plan together "
        "on Monday morning.",
        "When the children come home from school, they usually eat something, do their homework "
        "and then play football in the garden until dinner is ready.",
    ),
    "es": (
        "Sí, claro.",
        "Buenos días a todos.",
        "¿Me oyes bien ahora?",
        "Por favor, envíame el informe antes del viernes.",
        "El tren sale a las ocho de la mañana.",
        "Te llamo después de la reunión.",
        "Necesitamos dos sillas más para los invitados de la segunda fila.",
        "Hace muy buen tiempo hoy, así que iremos al parque después de comer.",
        "Mi hermana trabaja en un pequeño hospital cerca del río, y le encanta su trabajo.",
        "¿Podría decirme dónde está la farmacia más cercana y si abre los domingos?",
        "Creo que deberíamos empezar el proyecto la semana que viene y revisar el plan juntos "
        "el lunes por la mañana.",
        "Cuando los niños vuelven del colegio, normalmente comen algo, hacen los deberes y "
        "después juegan al fútbol en el jardín hasta la hora de cenar.",
    ),
    "fr": (
        "Oui, bien sûr.",
        "Bonjour à tous.",
        "Vous m'entendez maintenant?",
        "Envoyez-moi le rapport avant vendredi, s'il vous plaît.",
        "Le train part à huit heures du matin.",
        "Je vous rappelle après la réunion.",
        "Il nous faut deux chaises de plus pour les invités du deuxième rang.",
        "Il fait très beau aujourd'hui, alors nous irons au parc après le déjeuner.",
        "Ma sœur travaille dans un petit hôpital près de la rivière, et elle adore son travail.",
        "Pourriez-vous me dire où se trouve la pharmacie la plus proche, et si elle est ouverte "
        "le dimanche?",
        "Je pense que nous devrions commencer le projet la semaine prochaine, et nous pourrons "
        "revoir le plan ensemble lundi matin.",
        "Quand les enfants rentrent de l'école, ils mangent quelque chose, font leurs devoirs, "
        "puis jouent au football dans le jardin jusqu'au dîner.",
    ),
    "de": (
        "Ja, natürlich.",
        "Guten Morgen zusammen.",
        "Können Sie mich jetzt hören?",
        "Bitte schicken Sie mir den Bericht vor Freitag.",
        "Der Zug fährt um acht Uhr morgens ab.",
        "Ich rufe Sie nach der Besprechung zurück.",
        "Wir brauchen noch zwei Stühle für die Gäste in der zweiten Reihe.",
        "Das Wetter ist heute herrlich, also gehen wir nach dem Mittagessen in den Park.",
        "Meine Schwester arbeitet in einem kleinen Krankenhaus am Fluss, und sie liebt ihre "
        "Arbeit.",
        "Können Sie mir sagen, wo die nächste Apotheke ist und ob sie sonntags geöffnet hat?",
        "Ich denke, wir sollten das Projekt nächste Woche beginnen, und wir können den Plan am "
        "Montagmorgen gemeinsam besprechen.",
        "Wenn die Kinder von der Schule nach Hause kommen, essen sie meistens etwas, machen ihre "
        "Hausaufgaben und spielen dann bis zum Abendessen Fußball im Garten.",
    ),
    "it": (
        "Sì, certo.",
        "Buongiorno a tutti.",
        "Mi senti adesso?",
        "Per favore, mandami la relazione prima di venerdì.",
        "Il treno parte alle otto del mattino.",
        "Ti richiamo dopo la riunione.",
        "Ci servono altre due sedie per gli ospiti della seconda fila.",
        "Oggi il tempo è bellissimo, quindi andremo al parco dopo pranzo.",
        "Mia sorella lavora in un piccolo ospedale vicino al fiume, e ama il suo lavoro.",
        "Potrebbe dirmi dov'è la farmacia più vicina, e se è aperta la domenica?",
        "Penso che dovremmo iniziare il progetto la settimana prossima, e possiamo rivedere il "
        "piano insieme lunedì mattina.",
        "Quando i bambini tornano da scuola, di solito mangiano qualcosa, fanno i compiti e poi "
        "giocano a calcio in giardino fino all'ora di cena.",
    ),
}
